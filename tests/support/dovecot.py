"""A real Dovecot for the tests: own config in a temp dir, loopback, ephemeral ports.

One server per *variant* (server shape) is started once per test session;
each test gets a fresh user from a passwd-file. TLS uses a CA made for the
run. Quotas and ``quota_max_mail_size`` are per user (userdb extra fields).

Variants:
  default  - ``/`` separator, no prefix, special-use Sent/Drafts/Trash/Junk
  courier  - ``INBOX.`` prefix with ``.`` separator (Courier/Cyrus-like)
  reduced  - no MULTIAPPEND, UIDPLUS, LITERAL+ (plain RFC 3501 APPEND only)
  appendlimit - announces APPENDLIMIT=20480 (RFC 7889) and enforces it with
             ``quota_max_mail_size`` (Dovecot 2.3 does not announce the limit itself)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import imapclient

REDUCED_CAPABILITY = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE NAMESPACE CHILDREN"
APPEND_LIMIT = 20480
_counter = itertools.count(1)


DEFAULT_FOLDERS = "\n".join(
    f'mailbox {name} {{\n  auto = subscribe\n  special_use = {use}\n}}'
    for name, use in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                      ("Junk", "\\Junk")))
GMAIL_APPEND_LIMIT = 35651584
# Gmail's system folders: the [Gmail] hierarchy with its special uses (RFC 6154, 8457)
GMAIL_FOLDERS = "\n".join(
    f'mailbox "[Gmail]/{name}" {{\n  auto = subscribe\n  special_use = {use}\n}}'
    for name, use in (("All Mail", "\\All"), ("Sent Mail", "\\Sent"), ("Drafts", "\\Drafts"),
                      ("Trash", "\\Trash"), ("Spam", "\\Junk"), ("Starred", "\\Flagged"),
                      ("Important", "\\Important")))


class DovecotUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20, alive=lambda: True) -> bool:
    """True once something listens on loopback *port*; False if *alive()* turns false
    (the daemon ended) or *seconds* pass. Every test server starts with it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost/127.0.0.1."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=mailmigrate test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost")
    (directory / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def make_self_signed(directory: Path) -> Path:
    """A certificate no CA vouches for (for the 'untrusted certificate' test)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    "rogue.key", "-out", "rogue.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   cwd=directory, check=True, capture_output=True)
    return directory / "rogue.pem"


class ExpiringTokens(dict):
    """token -> user for the introspection endpoint; a token past its time is gone (the
    OAuth authority of tests/support/oauth_authority.py sets the times)."""

    def __init__(self):
        super().__init__()
        self.expires: dict[str, float] = {}

    def get(self, token, default=None):
        import time
        if token in self.expires and time.time() > self.expires[token]:
            return default
        return super().get(token, default)


def send_json(handler, status: int, answer: dict) -> None:
    """Answer an HTTP request of a test service with *answer* as JSON."""
    import json
    data = json.dumps(answer).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def start_introspection(tokens: dict[str, str]) -> int:
    """A minimal OAuth2 token introspection endpoint (RFC 7662) on loopback."""
    import http.server
    import urllib.parse

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            token = urllib.parse.parse_qs(body).get("token", [""])[0]
            user = tokens.get(token)
            answer = {"active": "true", "username": user} if user else {"active": "false"}
            send_json(self, 200, answer)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    import threading
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


@dataclasses.dataclass
class Account:
    server: "Dovecot"
    user: str
    password: str
    token: str | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def cli_args(self, tls: str = "ssl", port: int | None = None, ca: bool = True) -> list[str]:
        """TARGET arguments for mailmigrate (password via $MM_TEST_PASSWORD)."""
        if port is None:
            port = self.server.imaps_port if tls == "ssl" else self.server.imap_port
        args = ["--host", self.host, "--port", str(port), "--tls", tls, "--user", self.user,
                "--password-env", "MM_TEST_PASSWORD"]
        if ca and tls != "none":
            args += ["--ca-file", str(self.server.ca_file)]
        return args

    def client(self) -> imapclient.IMAPClient:
        ctx = ssl.create_default_context(cafile=str(self.server.ca_file))
        c = imapclient.IMAPClient(self.host, self.server.imaps_port, ssl=True, ssl_context=ctx,
                                  timeout=30)
        c.normalise_times = False
        if self.password.isascii():
            c.login(self.user, self.password)
        else:
            c.plain_login(self.user, self.password)
        return c

    def read_back(self) -> dict[str, list["ServerMessage"]]:
        """Every mailbox and message of the account: bytes, flags, INTERNALDATE."""
        out = {}
        c = self.client()
        try:
            for flags, _, name in c.list_folders():
                if {b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags}:
                    continue
                c.select_folder(name, readonly=True)
                msgs = []
                uids = c.search(["ALL"])
                if uids:
                    resp = c.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
                    for uid in sorted(resp):
                        item = resp[uid]
                        msgs.append(ServerMessage(
                            uid=uid, data=item[b"BODY[]"],
                            flags=frozenset(f.decode() if isinstance(f, bytes) else str(f)
                                            for f in item[b"FLAGS"]),
                            internaldate=item[b"INTERNALDATE"]))
                out[name] = msgs
        finally:
            c.logout()
        return out

    def place_mbox(self, name: str, data: bytes | Path) -> None:
        """Put an mbox file (its bytes, or a copy of the file *data*) into this user's
        mail directory (mbox variant), as Dovecot's own mbox driver will read it."""
        mail = self.server.homes / self.user / "mail"
        mail.mkdir(parents=True, exist_ok=True)
        (mail / "inbox").touch()
        if isinstance(data, Path):
            shutil.copyfile(data, mail / name)  # a benchmark's GB: not through memory
        else:
            (mail / name).write_bytes(data)
        for path in [mail.parent, mail, *mail.iterdir()]:
            os.chown(path, self.server.mail_uid, self.server.mail_gid)

    def set_limits(self, quota_kb: int | None = None, max_mail_size: str | None = None) -> None:
        """Change this user's quota (takes effect at the next login)."""
        self.server.write_user(self.user, self.password, quota_kb, max_mail_size)
        time.sleep(1.1)  # Dovecot stats a passwd-file at most once a second

    def delete_as_other_client(self, mailbox: str, uid: int) -> None:
        """Another client deletes (and expunges) one message; tests only."""
        c = self.client()
        try:
            c.select_folder(mailbox)
            c.delete_messages([uid])
            c.expunge()
        finally:
            c.logout()

    def append(self, mailbox: str, data: bytes, flags=(), when=None) -> None:
        """Put mail there as another client would."""
        c = self.client()
        try:
            if not c.folder_exists(mailbox):
                c.create_folder(mailbox)
            c.append(mailbox, data, flags=flags, msg_time=when)
        finally:
            c.logout()


@dataclasses.dataclass
class ServerMessage:
    uid: int
    data: bytes
    flags: frozenset
    internaldate: dt.datetime

    @property
    def keyflags(self) -> frozenset:
        return frozenset(f for f in self.flags if f != "\\Recent")


class Dovecot:
    """One running Dovecot instance of a given variant."""

    def __init__(self, variant: str = "default", vsz_limit: str | None = None):
        if shutil.which("dovecot") is None:
            raise DovecotUnavailable(
                "Dovecot is not installed: the integration tests need a real server. "
                "Run the README test command (it installs dovecot-imapd and dovecot-pop3d), "
                "or: sudo apt-get install -y dovecot-imapd dovecot-pop3d")
        self.variant = variant
        self.vsz_limit = vsz_limit  # Dovecot's default, 256M, cannot open a million-message folder
        self.root = Path(tempfile.mkdtemp(prefix=f"mm-dovecot-{variant}-"))
        os.chmod(self.root, 0o755)
        self.ca_file, self.cert, self.key = make_ca(self.root)
        os.chmod(self.key, 0o644)
        self.passwd = self.root / "passwd.d"  # one file per user: no reload timing issues
        self.passwd.mkdir()
        self.homes = self.root / "homes"
        self.homes.mkdir()
        if os.geteuid() == 0:
            self.mail_uid = self.mail_gid = 65534
            os.chown(self.homes, 65534, 65534)
            self.internal_user, self.login_user = "dovecot", "dovenull"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            import pwd  # POSIX only, like Dovecot itself
            self.internal_user = self.login_user = pwd.getpwuid(os.getuid()).pw_name
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.pop3_port, self.pop3s_port = free_port(), free_port()
        self.tokens = ExpiringTokens()  # OAuth2 access token -> user (oauth2 variant)
        if self.shaped("oauth2"):
            self.introspection_port = start_introspection(self.tokens)
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(self._config())
        self._start()

    def shaped(self, part: str) -> bool:
        """Whether the variant has *part*: "gmail-oauth2" is Gmail's shape with OAuth."""
        return part in self.variant.split("-")

    def _config(self) -> str:
        if self.variant == "courier":
            namespace = 'prefix = INBOX.\n  separator = .'
        else:
            namespace = 'separator = /'
        capability = f"imap_capability = {REDUCED_CAPABILITY}" if self.variant == "reduced" else ""
        max_size = ""
        folders = DEFAULT_FOLDERS
        if self.shaped("gmail"):  # the shape, not the behaviour (tests/gmail.py)
            capability = f"imap_capability = +X-GM-EXT-1 APPENDLIMIT={GMAIL_APPEND_LIMIT}"
            folders = GMAIL_FOLDERS
        if self.variant == "appendlimit":
            capability = f"imap_capability = +APPENDLIMIT={APPEND_LIMIT}"
            max_size = f"quota_max_mail_size = {APPEND_LIMIT}"
        return textwrap.dedent(f"""\
            base_dir = {self.root}/run
            state_dir = {self.root}/state
            instance_name = mm-{self.variant}-{os.getpid()}
            listen = 127.0.0.1
            protocols = imap pop3
            log_path = {self.root}/dovecot.log
            ssl = yes
            ssl_cert = <{self.cert}
            ssl_key = <{self.key}
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            first_valid_uid = 1
            default_internal_user = {self.internal_user}
            default_login_user = {self.login_user}
            mail_location = {self._mail_location()}
            mail_plugins = quota
            {f"default_vsz_limit = {self.vsz_limit}" if self.vsz_limit else ""}
            {self._oauth2_passdb()}
            passdb {{
              driver = passwd-file
              args = scheme=PLAIN {self.passwd}/%u
            }}
            userdb {{
              driver = passwd-file
              args = {self.passwd}/%u
            }}
            namespace inbox {{
              inbox = yes
              {namespace}
              {folders}
            }}
            protocol imap {{
              mail_plugins = $mail_plugins imap_quota
              {capability}
            }}
            plugin {{
              quota = maildir:User quota
              {max_size}
            }}
            service imap-login {{
              inet_listener imap {{
                port = {self.imap_port}
              }}
              inet_listener imaps {{
                port = {self.imaps_port}
                ssl = yes
              }}
            }}
            service pop3-login {{
              inet_listener pop3 {{
                port = {self.pop3_port}
              }}
              inet_listener pop3s {{
                port = {self.pop3s_port}
                ssl = yes
              }}
            }}
            service stats {{
              unix_listener stats-reader {{
                mode = 0666
              }}
              unix_listener stats-writer {{
                mode = 0666
              }}
            }}
            """)

    def _mail_location(self) -> str:
        if self.variant == "mbox":  # Dovecot's own mbox driver: the readers' oracle
            return "mbox:~/mail:INBOX=~/mail/inbox"
        return "maildir:~/Maildir"

    def _oauth2_passdb(self) -> str:
        """XOAUTH2 checked against a local introspection endpoint (oauth2 variant only)."""
        if not self.shaped("oauth2"):
            return ""
        ext = self.root / "dovecot-oauth2.conf.ext"
        ext.write_text(textwrap.dedent(f"""\
            introspection_mode = post
            introspection_url = http://127.0.0.1:{self.introspection_port}/introspect
            force_introspection = yes
            username_attribute = username
            active_attribute = active
            active_value = true
            """))
        return (f"auth_mechanisms = plain login xoauth2 oauthbearer\n"
                f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {ext}\n}}")

    def _start(self) -> None:
        # The daemon inherits stdout/stderr: give it a file, not a pipe we would wait on.
        out = self.root / "startup.log"
        with open(out, "wb") as f:
            run = subprocess.run(["dovecot", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=subprocess.STDOUT)
        if run.returncode != 0:
            raise DovecotUnavailable(f"Dovecot did not start: {out.read_text().strip()}\n"
                                     f"{self.log()}")
        if not wait_for_port(self.imaps_port, 15):
            raise DovecotUnavailable(f"Dovecot did not open port {self.imaps_port}\n"
                                     f"{self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def stop(self) -> None:
        subprocess.run(["doveadm", "-c", str(self.conf), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, quota_kb: int | None = None, max_mail_size: str | None = None,
                 password: str | None = None) -> Account:
        user = f"user{next(_counter)}"
        password = password or f"pw-{os.urandom(6).hex()}"
        self.write_user(user, password, quota_kb, max_mail_size)
        account = Account(self, user, password)
        if self.shaped("oauth2"):
            account.token = f"tok-{os.urandom(8).hex()}"
            self.tokens[account.token] = user
        return account

    def write_user(self, user: str, password: str, quota_kb: int | None,
                   max_mail_size: str | None) -> None:
        home = self.homes / user
        extra = []
        if quota_kb is not None:
            extra.append(f"userdb_quota_rule=*:storage={quota_kb}K")
        if max_mail_size is not None:
            extra.append(f"userdb_quota_max_mail_size={max_mail_size}")
        line = f"{user}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::{home}::{' '.join(extra)}\n"
        path = self.passwd / user
        old = path.stat().st_mtime if path.exists() else 0
        path.write_text(line)
        # Dovecot re-reads a passwd-file only when its mtime (in seconds) changes
        new = max(time.time(), old + 1)
        os.utime(path, (new, new))
