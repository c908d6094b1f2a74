#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs Dovecot (the tests start
# their own instances; no system service is used) and the Python test extras in
# .venv, then runs pytest. Extra arguments go to pytest.
#
# Needed: dovecot-imapd dovecot-pop3d openssl. Wanted (their tests skip, saying
# why, when absent): pst-utils (readpst), chromium and tesseract-ocr (plan.html
# rendered and read back).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd dovecot-pop3d)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
want=()
command -v readpst >/dev/null 2>&1 || want+=(pst-utils)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v tesseract >/dev/null 2>&1 || want+=(tesseract-ocr)

SUDO=""
can_install=yes
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else can_install=no; fi
fi
command -v apt-get >/dev/null 2>&1 || can_install=no

if [ ${#need[@]} -gt 0 ] || [ ${#want[@]} -gt 0 ]; then
  if [ "$can_install" = yes ]; then
    echo "Installing ${need[*]} ${want[*]} ..."
    $SUDO apt-get update -qq
    if [ ${#need[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [ ${#want[@]} -gt 0 ]; then
      if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${want[@]}" >/dev/null; then
        if [ -n "${CI:-}" ]; then
          echo "ERROR (CI): could not install ${want[*]}; CI does not skip their tests." >&2
          exit 2
        fi
        echo "NOTE: could not install ${want[*]}; the tests that need them will skip." >&2
      fi
    fi
  elif [ ${#need[@]} -gt 0 ]; then
    echo "ERROR: the tests need ${need[*]} and this user cannot install them." >&2
    echo "Install them (e.g. apt-get install -y ${need[*]}) and run again." >&2
    exit 2
  else
    echo "NOTE: ${want[*]} not installed; the tests that need them will skip." >&2
  fi
fi
command -v dovecot >/dev/null 2>&1 || { echo "ERROR: Dovecot is still not installed." >&2; exit 2; }

# Cyrus IMAP 3.6 (tests/support/cyrus.py): cyrus-imapd conflicts with dovecot-imapd (both are
# an imap-server), so its dependencies install normally and imapd itself is unpacked
# into a cache the cyrus user can read. Its tests need root (Cyrus runs as 'cyrus').
CACHE=${MM_SERVER_CACHE:-/var/cache/mailmigrate-test}
unpack() {  # a server package that conflicts with dovecot-imapd, unpacked into the cache
  local work
  work=$(mktemp -d)
  chmod 755 "$work"
  if (cd "$work" && { apt-get download "$1" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download "$1" >/dev/null 2>&1; }; }); then
    mkdir -p "$CACHE"
    dpkg-deb -x "$work"/"$1"_*.deb "$CACHE/$1"
    chmod -R a+rX "$CACHE"
  else
    echo "NOTE: could not download $1; its tests cannot start its server." >&2
  fi
  rm -rf "$work"
}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ ! -x /usr/lib/cyrus/bin/master ] || ! command -v saslpasswd2 >/dev/null 2>&1; then
    echo "Installing cyrus-common sasl2-bin ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cyrus-common sasl2-bin >/dev/null || echo "NOTE: could not install Cyrus." >&2
  fi
  [ -x "$CACHE/cyrus-imapd/usr/lib/cyrus/bin/imapd" ] || unpack cyrus-imapd
  # Courier-IMAP 5.0 (tests/support/courier.py; wanted: its tests skip, saying why, without it):
  # the authentication daemon installs normally, imapd is unpacked like Cyrus's.
  if [ ! -x /usr/lib/courier/courier-authlib/authdaemond ] || ! command -v makeuserdb >/dev/null 2>&1; then
    echo "Installing courier-authdaemon courier-authlib-userdb ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      courier-base courier-authlib courier-authdaemon courier-authlib-userdb >/dev/null ||
      echo "NOTE: could not install Courier's authentication; its tests will skip." >&2
  fi
  [ -x "$CACHE/courier-imap/usr/bin/imapd" ] || unpack courier-imap
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -m pip install -q -e '.[test,msg,oauth]' > .venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  echo "ERROR: installing the package and its test extras failed (log above)." >&2
  exit 2
fi
# Reading .pst directly is an optional extra (libpff-python has wheels for common
# platforms); without it the .pst tests skip and say why.
if ! .venv/bin/python -m pip install -q -e '.[test,pst]' >> .venv/pip-install.log 2>&1; then
  if [ -n "${CI:-}" ]; then
    cat .venv/pip-install.log >&2
    echo "ERROR (CI): the [pst] extra (libpff-python) did not install; CI does not skip the .pst tests." >&2
    exit 2
  fi
  echo "NOTE: the [pst] extra (libpff-python) did not install here; .pst tests will skip." >&2
fi
# The linter first (pyproject.toml [tool.ruff]): seconds, and a red line names the file.
if [ "$*" = "" ] || [ "$*" = "-q" ]; then
  .venv/bin/ruff check migrate tests scripts bench
  .venv/bin/lint-imports --no-cache  # the layers of docs/architecture.md
  .venv/bin/python -m mypy  # pyproject.toml [tool.mypy]: gradual, strict on the contract
fi
# Planted data-safety bugs first: the suite must catch each one (docs/testing.md).
# Skipped when pytest is asked for a subset (arguments other than -q).
if [ "$*" = "" ] || [ "$*" = "-q" ]; then
  .venv/bin/python scripts/check_mutants.py
fi
exec .venv/bin/python -m pytest "$@"
