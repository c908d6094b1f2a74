#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs Dovecot (the tests start
# their own instances; no system service is used) and the Python test extras in
# .venv, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dovecot >/dev/null 2>&1 || need_apt+=(dovecot-imapd dovecot-pop3d)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v readpst >/dev/null 2>&1 || need_apt+=(pst-utils)  # .pst export tests
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # plan.html rendered headless
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)  # ... and read back (OCR)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ERROR: the tests need ${need_apt[*]} and this user cannot install them." >&2
    echo "Install them (e.g. apt-get install -y ${need_apt[*]}) and run again." >&2
    exit 2
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ERROR: the tests need Dovecot (${need_apt[*]}); install it with your package manager." >&2
    exit 2
  fi
  echo "Installing ${need_apt[*]} ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v dovecot >/dev/null 2>&1 || { echo "ERROR: Dovecot is still not installed." >&2; exit 2; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -m pip install -q -e '.[test]' > .venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  echo "ERROR: installing the package and its test extras failed (log above)." >&2
  exit 2
fi
# Reading .pst directly is an optional extra (libpff-python has wheels for common
# platforms); without it the .pst tests skip and say why.
if ! .venv/bin/python -m pip install -q -e '.[test,pst]' >> .venv/pip-install.log 2>&1; then
  echo "NOTE: the [pst] extra (libpff-python) did not install here; .pst tests will skip." >&2
fi
exec .venv/bin/python -m pytest "$@"
