"""The IMAP server as a migration target. imapclient is used only in target/.

Operations are the few a migration needs: log in, learn the namespace and
special-use folders, create mailboxes, APPEND batches (MULTIAPPEND where
offered), and read fingerprints back. Nothing here deletes, expunges or
changes existing messages: the server only gains mail.

``IMAPTarget`` is one class in four files: the connection here, the mailbox tree
(``imap_mailboxes``), reading back (``imap_read``) and writing (``imap_write``);
what needs imaplib's internals is in ``wire``, answers are read in ``responses``.
"""

from __future__ import annotations

import logging
import ssl
import statistics
import time

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from migrate import providers
from migrate.errors import (
    AuthFailed,
    BadServerAnswer,
    ConnectionFailed,
    MailboxError,
    TooManyConnections,
    UsageError,
)
from migrate.secret import Secret
from migrate.target.base import SelectInfo, ServerLayout, ServerLimits
from migrate.target.config import TargetConfig, ssl_context
from migrate.target.failures import connection_guard, lost_connection
from migrate.target.guard import ReadGuard, uid_number
from migrate.target.imap_mailboxes import MailboxTree
from migrate.target.imap_read import ReadBack
from migrate.target.imap_write import Writing
from migrate.target.responses import (
    QUOTA_STORAGE,
    TOO_MANY,
    UNAVAILABLE,
    decode_atom,
    quoted,
    said,
)
from migrate.target.wire import Wire

log = logging.getLogger(__name__)
# Imported from here by callers: the target's configuration and its secret
REEXPORTED = (Secret, TargetConfig)

PROBE_UID = 4294967295  # highest legal UID: a SEARCH limited to it matches nothing


class IMAPTarget(MailboxTree, ReadBack, Writing):
    """A logged-in connection to the target account (implements ``target.base.Target``)."""

    def __init__(self, config: TargetConfig):
        self.config = config
        self.client = self.wire = None  # type: ignore[assignment]  # until connect()
        self.capabilities = frozenset()
        self.layout = ServerLayout()
        self.selected = None
        self.exists = 0
        self.listed = set()
        self.fetches_parsed_slowly = 0
        # the provider profile (--provider, else the host; at login also a capability):
        # resolved here and at login only, then read by everyone from here
        self.provider = providers.detect(config.host, override=config.provider)

    def connect(self) -> "IMAPTarget":
        cfg = self.config
        if cfg.password is None and cfg.token_source is None:
            raise UsageError("no password for the target account (see --password-env, "
                             "--password-file, or 'mailmigrate credentials set')")
        try:
            if cfg.tls == "ssl":
                client = imapclient.IMAPClient(cfg.host, cfg.effective_port, ssl=True,
                                               ssl_context=ssl_context(cfg.ca_file),
                                               timeout=cfg.timeout)
            else:
                client = imapclient.IMAPClient(cfg.host, cfg.effective_port, ssl=False,
                                               timeout=cfg.timeout)
                if cfg.tls == "starttls":
                    client.starttls(ssl_context(cfg.ca_file))
        except ssl.SSLCertVerificationError as e:
            raise ConnectionFailed(
                f"the certificate of {cfg.address} is not trusted ({e.verify_message}); "
                "if this server uses a private CA, pass --ca-file") from None
        except (OSError, ssl.SSLError, IMAPClientError) as e:
            raise ConnectionFailed(f"cannot connect to {cfg.address}: {e}; check --host, "
                                   "--port and --tls, and that the server is reachable") from None
        wire = Wire(client)
        self.guard = ReadGuard(wire.imap, cfg.address, cfg.timeout)
        try:
            if cfg.token_source is not None:
                _oauth2_login(client, cfg)
            else:
                assert cfg.password is not None  # (checked above)
                _login(client, wire, cfg.user, cfg.password.reveal())
        except LoginError as e:
            wire.logout_quietly()
            if TOO_MANY.search(str(e)):
                raise TooManyConnections(
                    f"{cfg.address} takes no more connections for {cfg.user!r} just now ({e}); "
                    "a run waits for one of its own to close; if it gives up, close the other "
                    "mail programs on this account (phones count) and run again") from None
            words = said(e)
            if UNAVAILABLE.search(words):
                raise ConnectionFailed(
                    f"the server {cfg.address} could not check the login for {cfg.user!r} just "
                    f"now (it said: {words}); the password was not judged: run the same command "
                    "again in a few minutes, and if this repeats, ask the server's "
                    "administrator") from None
            how = f"check the user name and {cfg.password_from}"
            known = self.provider.name
            if cfg.token_source is None and known in ("office365", "outlook"):
                how = ("this provider takes OAuth 2 only: sign in once with 'mailmigrate "
                       f"credentials login --provider {known}' (docs/providers.md)")
            elif cfg.token_source is not None:
                how = ("the sign-in was refused even with a fresh token: check that IMAP is "
                       "on for the mailbox and that the app has IMAP.AccessAsUser.All (or "
                       "the mail scope)")
            raise AuthFailed(f"the server {cfg.address} refused the login for {cfg.user!r} (it "
                             f"said: {words}); {how}") from None
        except (OSError, IMAPClientError) as e:
            raise ConnectionFailed(f"connection to {cfg.address} failed during login: "
                                   f"{type(e).__name__}") from None
        self.client, self.wire = client, wire
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            wire.quiet()
        try:
            self.capabilities = frozenset(c.decode().upper() for c in client.capabilities())
        except UnicodeDecodeError:
            raise BadServerAnswer(f"{cfg.address} listed capabilities that are not text; it "
                                  "is not behaving as IMAP: ask its administrator") from None
        self.provider = providers.detect(cfg.host, self.capabilities, cfg.provider)
        self.guard.limit_messages_to(self.append_limit)
        self.layout = self._read_layout()
        return self

    def close(self) -> None:
        if self.client is not None:
            self.wire.forget_answered()
            self.wire.logout_quietly()
            self.client = self.wire = None  # type: ignore[assignment]  # closed
            self.selected = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    @property
    def append_limit(self) -> int | None:
        """Largest message the server takes: APPENDLIMIT, else a known provider's limit."""
        for cap in self.capabilities:
            if cap.startswith("APPENDLIMIT="):
                value = cap.split("=", 1)[1]
                if not value.isdigit() or len(value) > 18:
                    raise BadServerAnswer(
                        f"{self.config.address} states its message size limit as "
                        f"APPENDLIMIT={value[:40]!r}, which is not a number (RFC 7889); ask "
                        "its administrator to fix the server's configuration")
                return int(value)
        return self.provider.max_message_bytes

    @property
    def limits(self) -> ServerLimits:
        """What this server refuses whatever the mailbox (plan, run and verify use it)."""
        return ServerLimits(self.append_limit, self.has("BINARY"), self.line_limit)

    @property
    def line_limit(self) -> int | None:
        """Longest line (without CRLF) the server takes, where known."""
        return self.provider.max_line


    @connection_guard
    def quota(self) -> tuple[int, int] | None:
        """(used bytes, limit bytes) of the quota root holding INBOX, or None if unlimited."""
        if not self.has("QUOTA"):
            return None
        typ, answers = self.wire.quota_answers()
        if typ != "OK":
            return None
        for answer in answers:
            found = QUOTA_STORAGE.search(answer or b"")
            if found:  # RFC 9208: units of 1024 octets
                return int(found.group(1)) * 1024, int(found.group(2)) * 1024
        return None

    @connection_guard
    def round_trip(self, samples: int = 5) -> float:
        """Median seconds for a NOOP and its answer."""
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            self.client.noop()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    @connection_guard
    def probe_send_rate(self, seconds: float = 1.5, chunk: int = 16 * 1024) -> float | None:
        """Bytes a second the server reads from us, measured without storing anything.

        Sends pipelined ``UID SEARCH UID 4294967295 BODY {n+}`` commands whose
        literal the server must read (and which match nothing), doubling the
        amount until the probe takes *seconds*/3 or more. Needs LITERAL+; the
        mailbox is EXAMINEd (read-only). Returns None if it cannot be measured.
        """
        if not self.has("LITERAL+"):
            return None
        self.examine("INBOX")
        count, rate = 4, None
        probe = b"UID SEARCH UID %d BODY {%d+}\r\n" % (PROBE_UID, chunk) + b"x" * chunk + b"\r\n"
        while True:
            start = time.perf_counter()
            if not self.wire.probes([probe] * count):
                return None
            elapsed = time.perf_counter() - start
            rate = count * chunk / max(elapsed, 1e-6)
            if elapsed >= seconds / 3 or count >= 1024:
                return rate
            count *= 2

    @connection_guard
    def status(self, name: str) -> tuple[int, int, int]:
        """(UIDVALIDITY, UIDNEXT, MESSAGES) of *name* without selecting it."""
        found = self.client.folder_status(name, ["UIDVALIDITY", "UIDNEXT", "MESSAGES"])
        address = self.config.address
        if not {b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"} <= set(found):
            raise BadServerAnswer(f"{address} answered STATUS of {name!r} without the items "
                                  "asked for; ask the server's administrator")
        return (uid_number(found[b"UIDVALIDITY"], "UIDVALIDITY", address),
                uid_number(found[b"UIDNEXT"], "UIDNEXT", address), int(found[b"MESSAGES"]))

    @connection_guard
    def select(self, name: str, readonly: bool = False) -> SelectInfo:
        """SELECT *name*; ``readonly`` uses EXAMINE (no \\Recent or flag change)."""
        try:
            info = self.client.select_folder(name, readonly=readonly)
        except IMAPClientError as e:
            if lost_connection(e):
                raise
            raise MailboxError(f"the server will not open mailbox {name!r} ({e})") from None
        self.wire.forget_answered()
        self.selected = name
        self.exists = int(info.get(b"EXISTS", 0))
        if b"UIDVALIDITY" not in info:
            raise BadServerAnswer(
                f"{self.config.address} opened mailbox {name!r} without saying its UIDVALIDITY "
                "(RFC 3501 6.3.1 requires it); without it no message can be recognised "
                "again: ask the server's administrator")
        address = self.config.address
        return SelectInfo(
            uidvalidity=uid_number(info[b"UIDVALIDITY"], "UIDVALIDITY", address),
            uidnext=uid_number(info[b"UIDNEXT"], "UIDNEXT", address)
            if b"UIDNEXT" in info else None,
            exists=int(info.get(b"EXISTS", 0)),
            permanent_flags=frozenset() if readonly else frozenset(
                decode_atom(f) for f in info.get(b"PERMANENTFLAGS", ())),
        )

    def examine(self, name: str) -> SelectInfo:
        """Read-only SELECT (EXAMINE): what ``plan`` and ``verify`` use."""
        return self.select(name, readonly=True)


def _login(client: imapclient.IMAPClient, wire: Wire, user: str, password: str) -> None:
    """LOGIN, or for a non-ASCII user or password AUTHENTICATE PLAIN in UTF-8 (RFC 4616).

    imaplib sends LOGIN arguments as ASCII; without AUTH=PLAIN the UTF-8
    bytes go in a LOGIN literal instead (RFC 9051 allows 8-bit literals).
    """
    if user.isascii() and password.isascii():
        client.login(user, password)
        return
    caps = {c.upper() for c in client.capabilities()}
    if b"AUTH=PLAIN" in caps:
        client.plain_login(user, password)
        return
    wire.login_literal(quoted(user.encode("utf-8")), password.encode("utf-8"))


def _oauth2_login(client, cfg) -> None:
    """XOAUTH2 with the current token; refused, once more with a fresh one (a token
    the provider revoked or let expire early): a second refusal is the answer."""
    try:
        client.oauth2_login(cfg.user, cfg.token_source().reveal())
    except LoginError:
        invalidate = getattr(cfg.token_source, "invalidate", None)
        if invalidate is None:
            raise
        invalidate()
        client.oauth2_login(cfg.user, cfg.token_source().reveal())
