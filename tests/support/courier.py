"""A real Courier-IMAP 5.0 for the tests, in its own mount namespace.

Courier's authentication (authdaemond, its authdaemonrc and userdb) lives at
fixed paths (/etc/courier, /run/courier). Each instance therefore runs under
``unshare -m`` with a private temp dir bind-mounted over both, so nothing on
the machine changes: authdaemond with ``authuserdb`` and users made up front,
``couriertcpd`` on a loopback ephemeral port running imaplogin/imapd unpacked
from ``courier-imap`` (it conflicts with dovecot-imapd) into the test cache.
Plaintext only (TLS is tested on Dovecot and Cyrus). Courier's defaults are kept
on purpose, including IMAP_EMPTYTRASH=Trash:7 (docs/servers.md).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import imapclient

from tests.support.cyrus import CACHE
from tests.support.dovecot import Account, _counter, free_port, wait_for_port


def sha512_crypt(password: str) -> str:
    """The userdb's systempw ($6$...), made by openssl (Python's crypt is going away)."""
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, text=True,
                          capture_output=True, check=True).stdout.strip()

AUTHDAEMOND = Path("/usr/lib/courier/courier-authlib/authdaemond")
USERS = 40  # made up front: the userdb is compiled inside the namespace


class CourierUnavailable(RuntimeError):
    pass


@dataclasses.dataclass
class CourierAccount(Account):
    def cli_args(self, tls: str = "none", port: int | None = None, ca: bool = False) -> list[str]:
        return ["--host", self.host, "--port", str(port or self.server.imap_port), "--tls", "none",
                "--user", self.user, "--password-env", "MM_TEST_PASSWORD"]

    def client(self) -> imapclient.IMAPClient:
        c = imapclient.IMAPClient(self.host, self.server.imap_port, ssl=False, timeout=30)
        c.normalise_times = False
        c.login(self.user, self.password)
        return c


class Courier:
    def __init__(self):
        imap = CACHE / "courier-imap"
        for need in (imap / "usr" / "bin" / "imapd", AUTHDAEMOND):
            if not need.exists():
                raise CourierUnavailable(f"Courier-IMAP is not installed ({need} missing): "
                                         "scripts/test.sh installs courier-authdaemon and "
                                         "unpacks courier-imap into the test cache")
        if os.geteuid() != 0 or not shutil.which("unshare"):
            raise CourierUnavailable("Courier runs in a mount namespace: the tests need root")
        self.root = Path(tempfile.mkdtemp(prefix="mm-courier-"))
        os.chmod(self.root, 0o755)
        for sub in ("etc", "run", "homes"):
            (self.root / sub).mkdir()
        rc = Path("/etc/courier/authdaemonrc").read_text()
        (self.root / "etc" / "authdaemonrc").write_text(
            "\n".join('authmodulelist="authuserdb"' if line.startswith("authmodulelist=")
                      else line for line in rc.splitlines()) + "\n")
        self.users = []
        lines = []
        for _ in range(USERS):
            user, password = f"user{next(_counter)}", f"pw-{os.urandom(6).hex()}"
            home = self.root / "homes" / user
            home.mkdir()
            subprocess.run(["maildirmake", str(home / "Maildir")], check=True)
            lines.append(f"{user}\tuid=65534|gid=65534|home={home}|mail={home / 'Maildir'}|"
                         f"systempw={sha512_crypt(password)}")
            self.users.append((user, password))
        userdb = self.root / "etc" / "userdb"
        userdb.write_text("\n".join(lines) + "\n")
        userdb.chmod(0o600)
        subprocess.run(["chown", "-R", "65534:65534", str(self.root / "homes")], check=True)
        self.imap_port = free_port()
        script = self.root / "start.sh"
        script.write_text(f"""set -e
mkdir -p /etc/courier /run/courier
mount --bind {self.root}/etc /etc/courier
mount --bind {self.root}/run /run/courier
mkdir -p /run/courier/authdaemon
makeuserdb
{AUTHDAEMOND} > {self.root}/authdaemond.log 2>&1 &
export IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE QUOTA IDLE" MAILDIRPATH=Maildir \\
  IMAP_TLS_REQUIRED=0 IMAP_EMPTYTRASH=Trash:7 IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_USELOCKS=1 \\
  IMAP_ULIMITD=131072 IMAP_UMASK=077 IMAP_TRASHFOLDERNAME=Trash
exec couriertcpd -address=127.0.0.1 -nodnslookup -noidentlookup -maxprocs=40 \\
  {self.imap_port} {imap}/usr/lib/courier/courier/imaplogin {imap}/usr/bin/imapd Maildir
""")
        self.process = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", str(script)],
            stdin=subprocess.DEVNULL, stdout=open(self.root / "tcpd.log", "wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self) -> None:
        if not wait_for_port(self.imap_port, 20, lambda: self.process.poll() is None):
            raise CourierUnavailable(f"Courier did not start on {self.imap_port}: {self.log()}")
        time.sleep(0.3)  # authdaemond starts beside it

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in
                       (self.root / "tcpd.log", self.root / "authdaemond.log") if p.exists())

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, 9)
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, **_) -> CourierAccount:
        if not self.users:
            raise CourierUnavailable("all Courier test users are taken; raise USERS")
        user, password = self.users.pop(0)
        return CourierAccount(self, user, password)
