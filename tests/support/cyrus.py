"""A real Cyrus IMAP 3.6 for the tests, in user space.

Debian's ``cyrus-imapd`` conflicts with ``dovecot-imapd`` (both provide
``imap-server``), so scripts/test.sh installs ``cyrus-common`` (master,
ctl_cyrusdb, the ``cyrus`` user) and ``sasl2-bin`` normally and unpacks
``cyrus-imapd`` (imapd) with ``dpkg-deb -x`` into a cache; ``CYRUS_IMAPD``
or that cache (readable by the cyrus user) says where imapd is. Each instance has a private imapd.conf and
cyrus.conf in a temp dir, listens on loopback ephemeral ports (plain and
TLS with a CA made here), keeps users in its own sasldb, and is stopped by
PID. Shapes: ``/`` (unixhierarchysep: yes) or ``.``, ``reject8bit`` and a
small ``maxmessagesize``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import imapclient

from tests.support.dovecot import Account, _counter, free_port, make_ca, wait_for_port

CYRUS_BIN = Path("/usr/lib/cyrus/bin")
CACHE = Path(os.environ.get("MM_SERVER_CACHE", "/var/cache/mailmigrate-test"))


class CyrusUnavailable(RuntimeError):
    pass


def imapd_path() -> Path | None:
    for candidate in (os.environ.get("CYRUS_IMAPD"),
                      CACHE / "cyrus-imapd" / "usr" / "lib" / "cyrus" / "bin" / "imapd"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class Cyrus:
    """One running Cyrus instance of a shape: "slash", "dot", "reject8bit", "maxsize"."""

    MAX_SIZE = 20480

    def __init__(self, shape: str = "slash"):
        imapd = imapd_path()
        if imapd is None or not (CYRUS_BIN / "master").is_file() or not shutil.which(
                "saslpasswd2"):
            raise CyrusUnavailable(
                "Cyrus IMAP is not installed: scripts/test.sh installs cyrus-common and "
                "sasl2-bin and unpacks cyrus-imapd into /var/cache/mailmigrate-test")
        if os.geteuid() != 0:
            raise CyrusUnavailable("Cyrus runs as the 'cyrus' user: the tests need root")
        self.shape = shape
        self.root = Path(tempfile.mkdtemp(prefix=f"mm-cyrus-{shape}-"))
        os.chmod(self.root, 0o755)
        self.ca_file, self.cert, self.key = make_ca(self.root)
        for sub in ("config", "spool", "socket"):
            (self.root / sub).mkdir()
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.conf = self.root / "imapd.conf"
        self.admin_password = f"adm-{os.urandom(6).hex()}"
        self.conf.write_text(self._imapd_conf())
        (self.root / "cyrus.conf").write_text(self._cyrus_conf(imapd))
        self._saslpasswd("cyrus", self.admin_password)
        subprocess.run(["chown", "-R", "cyrus:mail", str(self.root)], check=True)
        self.process = subprocess.Popen(
            [str(CYRUS_BIN / "master"), "-p", str(self.root / "master.pid"), "-C",
             str(self.conf), "-M",
             str(self.root / "cyrus.conf")], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.root / "master.log", "wb"),
            start_new_session=True)
        self._wait()

    def _imapd_conf(self) -> str:
        r = self.root
        lines = [f"configdirectory: {r}/config", f"partition-default: {r}/spool",
                 "defaultpartition: default", "admins: cyrus",
                 "sasl_pwcheck_method: auxprop", "sasl_auxprop_plugin: sasldb",
                 f"sasl_sasldb_path: {r}/sasldb2", "sasl_mech_list: PLAIN LOGIN",
                 "allowplaintext: yes",
                 f"unixhierarchysep: {'no' if self.shape == 'dot' else 'yes'}",
                 f"altnamespace: {'no' if self.shape == 'dot' else 'yes'}",
                 f"lmtpsocket: {r}/socket/lmtp", f"idlesocket: {r}/socket/idle",
                 f"notifysocket: {r}/socket/notify", "syslog_prefix: mm-cyrus",
                 f"tls_server_cert: {self.cert}", f"tls_server_key: {self.key}"]
        if self.shape == "reject8bit":
            lines.append("reject8bit: yes")
        if self.shape == "maxsize":
            lines.append(f"maxmessagesize: {self.MAX_SIZE}")
        return "\n".join(lines) + "\n"

    def _cyrus_conf(self, imapd: Path) -> str:
        c = self.conf
        return (f'START {{\n  recover cmd="{CYRUS_BIN}/ctl_cyrusdb -r -C {c}"\n}}\n'
                f'SERVICES {{\n  imap cmd="{imapd} -C {c}" listen="127.0.0.1:{self.imap_port}" '
                'prefork=0\n'
                f'  imaps cmd="{imapd} -s -C {c}" listen="127.0.0.1:{self.imaps_port}" '
                'prefork=0\n}\n'
                f'EVENTS {{\n  checkpoint cmd="{CYRUS_BIN}/ctl_cyrusdb -c -C {c}" period=30\n}}\n')

    def _saslpasswd(self, user: str, password: str) -> None:
        subprocess.run(["saslpasswd2", "-p", "-f", str(self.root / "sasldb2"), "-c", user],
                       input=password.encode(), check=True, capture_output=True)
        os.chown(self.root / "sasldb2", *_cyrus_ids())

    def _wait(self) -> None:
        if not wait_for_port(self.imaps_port, 20, lambda: self.process.poll() is None):
            raise CyrusUnavailable(f"Cyrus did not open port {self.imaps_port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "master.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, 9)
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, password: str | None = None, **_) -> Account:
        user = f"user{next(_counter)}"
        password = password or f"pw-{os.urandom(6).hex()}"
        self._saslpasswd(user, password)
        admin = imapclient.IMAPClient("127.0.0.1", self.imap_port, ssl=False, timeout=30)
        try:
            admin.login("cyrus", self.admin_password)
            sep = "." if self.shape == "dot" else "/"
            admin.create_folder(f"user{sep}{user}")
        finally:
            admin.logout()
        return Account(self, user, password)


def _cyrus_ids() -> tuple[int, int]:
    import grp
    import pwd
    return pwd.getpwnam("cyrus").pw_uid, grp.getgrnam("mail").gr_gid
