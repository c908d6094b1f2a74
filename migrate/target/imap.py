"""The IMAP server as a migration target. imapclient is used only here.

Operations are the few a migration needs: log in, learn the namespace and
special-use folders, create mailboxes, APPEND batches (MULTIAPPEND where
offered), and read fingerprints back. Nothing here deletes, expunges or
changes existing messages: the server only gains mail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import imaplib
import logging
import re
import socket
import ssl
import statistics
import time
from array import array

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_fetch_response, parse_response
from imapclient.util import to_unicode

from migrate import fingerprint, headers, providers
from migrate.errors import (
    AuthFailed,
    BadServerAnswer,
    ConnectionFailed,
    MailboxError,
    SourceError,
    SessionEnded,
    TooManyConnections,
    UsageError,
)
from migrate.secret import Secret  # also imported from here by callers
from migrate.sources.stream import Streamed
from migrate.target import search_response
from migrate.target.base import (
    MAX_UID,
    UID_TYPE,
    AppendItem,
    AppendResult,
    SelectInfo,
    ServerCopy,
    ServerLayout,
    ServerLimits,
    StoredInfo,
    fallback_name,
    uid_set,
)
from migrate.target.fetch_response import fingerprint_items
from migrate.target.guard import ReadGuard, uid_number
from migrate.target.list_response import ListParseError, parse_list

log = logging.getLogger(__name__)

_UID_SET = rb"(\d+(?::\d+)?(?:,\d+(?::\d+)?)*)"  # RFC 4315 uid-set
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) " + _UID_SET + rb"\]")
_COPYUID = re.compile(rb"\[COPYUID (\d+) " + _UID_SET + rb" " + _UID_SET + rb"\]")
_QUOTA_STORAGE = re.compile(rb"(?i)\bSTORAGE (\d+) (\d+)")
_RESP_CODE = re.compile(rb"^\[([A-Z-]+)")
_TOO_MANY = re.compile(r"(?i)too many (simultaneous |concurrent )?connections")
# RFC 5530: the server could not decide (Dovecot: "Temporary authentication failure"
# when its user database cannot be read), as opposed to [AUTHENTICATIONFAILED]
_UNAVAILABLE = re.compile(r"(?i)\[UNAVAILABLE\]|temporary authentication failure")
_SPECIAL_USE = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged")
DEFAULT_TIMEOUT = 60.0

PROBE_UID = 4294967295  # highest legal UID: a SEARCH limited to it matches nothing

# imaplib refuses a response line over 1 MB, and a UID SEARCH answer is one line:
# a mailbox of 140,000 messages or more stopped the check at the end of a run (the
# million-message benchmark). 64 MB holds the UIDs of about six million.
imaplib._MAXLINE = 64 * 1024 * 1024


@dataclasses.dataclass
class TargetConfig:
    host: str
    user: str
    port: int | None = None
    tls: str = "ssl"  # ssl | starttls | none
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    password: Secret | None = dataclasses.field(default=None, repr=False)
    token_source: object = dataclasses.field(default=None, repr=False)  # () -> Secret (XOAUTH2)
    password_from: str = "the stored password"  # where the password came from, in words
    provider: str | None = None  # --provider: a profile name instead of detection

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "ssl" else 143)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.effective_port}"


MOST_UIDS = 100_000  # more than any APPEND or COPY of ours carries


def _parse_uid_set(text: bytes) -> list[int] | None:
    """The UIDs of a uid-set ("1:3,7"), in order; None for more than MOST_UIDS (a
    server's answer never names more than we sent: the journal resolves it instead)."""
    ranges = []
    for part in text.split(b","):
        lo, _, hi = part.partition(b":")
        a, b = uid_number(lo, "a UID", "the server"), uid_number(hi or lo, "a UID", "the server")
        ranges.append((min(a, b), max(a, b)))
    if sum(b - a + 1 for a, b in ranges) > MOST_UIDS:
        return None
    return [uid for a, b in ranges for uid in range(a, b + 1)]


def parse_append_response(typ: str, data) -> AppendResult:
    """Turn an APPEND's (typ, data) into an AppendResult (APPENDUID parsed)."""
    text = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in (data or []) if d)
    ok = typ == "OK"
    m = _APPENDUID.search(text)
    code = _RESP_CODE.match(text)
    return AppendResult(
        ok=ok,
        uidvalidity=uid_number(m.group(1), "APPENDUID's UIDVALIDITY", "the server")
        if m else None,
        uids=_parse_uid_set(m.group(2)) if m else None,
        code=code.group(1).decode() if code else None,
        text=text.decode("utf-8", "replace"),
    )


_WRAPPED = re.compile(r"^(?:\w+ failed: |\w+ command error: \w+ \[b?['\"](.*)['\"]\]$)", re.S)


def server_words(e: BaseException) -> bytes:
    """What the server said, from an imaplib/imapclient error ("APPEND command error: BAD
    [b'...']", "append failed: ..."): the reason a person reads."""
    text = str(e)
    m = _WRAPPED.match(text)
    if m:
        text = m.group(1) if m.group(1) is not None else text[m.end():]
    return text.encode("utf-8", "replace")


def _said(e: BaseException, limit: int = 200) -> str:
    """The server's words for a person: one line of printable text, cut short (a
    hostile server's text must not reach the terminal as control characters)."""
    text = server_words(e).decode("utf-8", "replace")
    if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:  # imaplib's repr of the bytes
        text = text[2:-1]
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return (text[:limit] + "...") if len(text) > limit else text or "nothing"


def parse_copy_response(typ: str, data) -> AppendResult:
    """Turn a UID COPY's (typ, data) into an AppendResult: COPYUID's source UIDs in
    ``sources``, the new ones in ``uids``, in the same order (RFC 4315)."""
    result = parse_append_response(typ, data)
    m = _COPYUID.search(result.text.encode())
    if m:
        sources, uids = _parse_uid_set(m.group(2)), _parse_uid_set(m.group(3))
        if sources is not None and uids is not None and len(sources) == len(uids):
            result.uidvalidity, result.sources, result.uids = uid_number(
                m.group(1), "COPYUID's UIDVALIDITY", "the server"), sources, uids
    return result


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"cannot load CA file {ca_file}: {e}") from e


def _lost_connection(e: BaseException) -> bool:
    """True when *e* means the connection is gone (retry on a new one), not a refusal."""
    if isinstance(e, (OSError, imaplib.IMAP4.abort, ssl.SSLError,
                      imapclient.exceptions.IMAPClientAbortError)):
        return True
    text = str(e)  # imaplib turns some socket failures into plain errors
    return isinstance(e, (IMAPClientError, imaplib.IMAP4.error)) and (
        "socket" in text.lower() or "EOF" in text)


# Gmail past ~500 MB a day: "* BYE Session expired, please login again." (imaplib keeps
# the text, not the word BYE)
_SESSION_EXPIRED = re.compile(r"(?i)\bsession expired\b")


def lost(message: str) -> ConnectionFailed:
    """A lost connection, classified where it is read: a session the server ended as
    expired is ``SessionEnded`` (the engine weighs it against the daily budget)."""
    if _SESSION_EXPIRED.search(message):
        return SessionEnded(message)
    return ConnectionFailed(message)


def connection_guard(method):
    """Turn a lost connection inside *method* into ConnectionFailed (retryable)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ConnectionFailed:
            raise
        except Exception as e:  # classified below, re-raised otherwise
            if _lost_connection(e):
                raise lost(f"connection to {self.config.address} lost during "
                           f"{method.__name__}: {type(e).__name__}: {e}") from None
            if isinstance(e, imaplib.IMAP4.error) and "got more than" in str(e):
                raise ConnectionFailed(
                    f"{self.config.address} answered {method.__name__} with one line of over "
                    f"{imaplib._MAXLINE >> 20} MB, more than mailmigrate reads (a mailbox of "
                    "millions of messages); nothing is lost: split that folder in the source "
                    "into smaller ones and run again") from None
            raise
    return wrapper


class IMAPTarget:
    """A logged-in connection to the target account (implements ``target.base.Target``)."""

    def __init__(self, config: TargetConfig):
        self.config = config
        self.client: imapclient.IMAPClient | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.layout = ServerLayout()
        self.selected: str | None = None
        self.exists = 0  # messages in the selected mailbox when it was selected
        self.listed: set[str] = set()  # mailboxes holding mail at login (LIST "" "*")
        self._unawaited: list[bytes] = []  # tags of commands sent by _unanswered
        self.fetches_parsed_slowly = 0  # fingerprint answers fetch_response left to imapclient

    # -- connection --------------------------------------------------------

    def connect(self) -> "IMAPTarget":
        cfg = self.config
        if cfg.password is None and cfg.token_source is None:
            raise UsageError("no password for the target account (see --password-env, "
                             "--password-file, or 'mailmigrate credentials set')")
        try:
            if cfg.tls == "ssl":
                client = imapclient.IMAPClient(cfg.host, cfg.effective_port, ssl=True,
                                               ssl_context=_ssl_context(cfg.ca_file),
                                               timeout=cfg.timeout)
            else:
                client = imapclient.IMAPClient(cfg.host, cfg.effective_port, ssl=False,
                                               timeout=cfg.timeout)
                if cfg.tls == "starttls":
                    client.starttls(_ssl_context(cfg.ca_file))
        except ssl.SSLCertVerificationError as e:
            raise ConnectionFailed(
                f"the certificate of {cfg.address} is not trusted ({e.verify_message}); "
                "if this server uses a private CA, pass --ca-file") from None
        except (OSError, ssl.SSLError, IMAPClientError) as e:
            raise ConnectionFailed(f"cannot connect to {cfg.address}: {e}; check --host, "
                                   "--port and --tls, and that the server is reachable") from None
        self.guard = ReadGuard(client._imap, cfg.address, cfg.timeout)
        try:
            if cfg.token_source is not None:
                _oauth2_login(client, cfg)
            else:
                _login(client, cfg.user, cfg.password.reveal())
        except LoginError as e:
            _quietly_logout(client)
            if _TOO_MANY.search(str(e)):
                raise TooManyConnections(
                    f"{cfg.address} takes no more connections for {cfg.user!r} just now ({e}); "
                    "a run waits for one of its own to close; if it gives up, close the other "
                    "mail programs on this account (phones count) and run again") from None
            said = _said(e)
            if _UNAVAILABLE.search(said):
                raise ConnectionFailed(
                    f"the server {cfg.address} could not check the login for {cfg.user!r} just "
                    f"now (it said: {said}); the password was not judged: run the same command "
                    "again in a few minutes, and if this repeats, ask the server's "
                    "administrator") from None
            how = f"check the user name and {cfg.password_from}"
            known = providers.detect(cfg.host, override=cfg.provider).name
            if cfg.token_source is None and known in ("office365", "outlook"):
                how = ("this provider takes OAuth 2 only: sign in once with 'mailmigrate "
                       f"credentials login --provider {known}' (docs/providers.md)")
            elif cfg.token_source is not None:
                how = ("the sign-in was refused even with a fresh token: check that IMAP is "
                       "on for the mailbox and that the app has IMAP.AccessAsUser.All (or "
                       "the mail scope)")
            raise AuthFailed(f"the server {cfg.address} refused the login for {cfg.user!r} (it "
                             f"said: {said}); {how}") from None
        except (OSError, IMAPClientError) as e:
            raise ConnectionFailed(f"connection to {cfg.address} failed during login: "
                                   f"{type(e).__name__}") from None
        self.client = client
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            client._imap.debug = 0  # else imaplib formats each line for a log that drops it
        try:
            self.capabilities = frozenset(c.decode().upper() for c in client.capabilities())
        except UnicodeDecodeError:
            raise BadServerAnswer(f"{cfg.address} listed capabilities that are not text; it "
                                  "is not behaving as IMAP: ask its administrator") from None
        self.guard.limit_messages_to(self.append_limit)
        self.layout = self._read_layout()
        return self

    def close(self) -> None:
        if self.client is not None:
            self._forget_answered()
            _quietly_logout(self.client)
            self.client = None
            self.selected = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

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

    @property
    def provider(self) -> providers.Provider:
        """The provider profile (``--provider``, else the host, else a capability)."""
        return providers.detect(self.config.host, self.capabilities, self.config.provider)

    # -- read-only measurements (plan) ---------------------------------------

    @connection_guard
    def quota(self) -> tuple[int, int] | None:
        """(used bytes, limit bytes) of the quota root holding INBOX, or None if unlimited."""
        if not self.has("QUOTA"):
            return None
        imap = self.client._imap  # imapclient's parser fails on a root with no limits
        typ, _ = imap._simple_command("GETQUOTAROOT", "INBOX")
        imap.untagged_responses.pop("QUOTAROOT", None)
        answers = imap.untagged_responses.pop("QUOTA", [])
        if typ != "OK":
            return None
        for answer in answers:
            found = _QUOTA_STORAGE.search(answer or b"")
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
        imap = self.client._imap
        count, rate = 4, None
        pad = b"x" * chunk
        while True:
            start = time.perf_counter()
            tags = []
            for _ in range(count):
                tag = imap._new_tag()
                tags.append(tag)
                imap.send(tag + b" UID SEARCH UID %d BODY {%d+}\r\n" % (PROBE_UID, chunk)
                          + pad + b"\r\n")
            for tag in tags:
                typ, _ = imap._command_complete("SEARCH", tag)
                if typ != "OK":
                    return None
            imap.untagged_responses.pop("SEARCH", None)
            elapsed = time.perf_counter() - start
            rate = count * chunk / max(elapsed, 1e-6)
            if elapsed >= seconds / 3 or count >= 1024:
                return rate
            count *= 2

    # -- mailboxes ---------------------------------------------------------

    def _namespace_and_list(self) -> tuple[tuple | None, list]:
        """NAMESPACE (where the server has it) and LIST "" "*" in one round trip: the
        personal namespace's (prefix, delimiter) or None, and imapclient's folder list.
        Refused, each is asked again alone (its error raised as imapclient raises it)."""
        commands = ([b"NAMESPACE"] if self.has("NAMESPACE") else []) + [b'LIST "" "*"']
        [(ok, answers)] = self._pipelined([("", commands)])
        if ok:
            try:
                return self._personal(answers[0]) if len(commands) == 2 else None, \
                    self._folders(answers[-1].get("LIST", []))
            except (IMAPClientError, ValueError, TypeError, IndexError):
                pass  # a shape not expected: asked alone, imapclient says what it is
        personal = self.client.namespace().personal if self.has("NAMESPACE") else None
        return (personal[0] if personal else None), self._list("*")

    def _folders(self, data: list) -> list[tuple[tuple, bytes | None, str]]:
        """imapclient's (flags, delimiter, name) of LIST answers, read by
        ``list_response`` (any name a server sends; imapclient's parser refused some)."""
        out = []
        for flags, delimiter, raw in parse_list(data):
            name = _mailbox_name(raw) if self.client.folder_encode else raw
            out.append((flags, delimiter, name))
        return out

    def _list(self, pattern: str) -> list[tuple[tuple, bytes | None, str]]:
        """LIST "" *pattern*, read by ``list_response``."""
        imap = self.client._imap
        typ, data = imap._simple_command("LIST", b'""', self.client._normalise_folder(pattern))
        self.client._checkok("list", typ, data)
        _, data = imap._untagged_response(typ, data, "LIST")
        try:
            return self._folders(data)
        except ListParseError as e:
            raise MailboxError(f"{self.config.address} sent a list of mailboxes this tool "
                               f"cannot read ({_said(e)}); report it with the server's "
                               "name and version") from None

    def _personal(self, answer: dict) -> tuple | None:
        """The personal namespace's (prefix, delimiter) in a NAMESPACE answer (personal,
        other users', shared), read as imapclient.namespace() reads it."""
        found = parse_response([line for line in answer.get("NAMESPACE", []) if line is not None])
        if not (found and found[0]):
            return None
        prefix, separator = found[0][0]
        return (decode_utf7(prefix) if self.client.folder_encode else prefix,
                to_unicode(separator))

    def _read_layout(self) -> ServerLayout:
        prefix, delimiter = "", "/"
        personal, folders = self._namespace_and_list()
        if personal:
            prefix, delimiter = personal[0] or "", personal[1] or "/"
        if folders and not self.has("NAMESPACE"):
            delimiter = _decode(folders[0][1]) or "/"
        self.listed = {name for flags, _, name in folders if _holds_mail(flags)}
        special = {}
        for flags, _, name in folders:
            for flag in flags:
                use = _decode(flag)
                if use in _SPECIAL_USE and use not in special:
                    special[use] = name
        return ServerLayout(prefix=prefix, delimiter=delimiter, special_use=special,
                            existing=frozenset(name for _, _, name in folders),
                            reserved=self.provider.reserved,
                            refused_first=self.provider.refused_first)

    @connection_guard
    def create_mailboxes(self, wanted: list[tuple[str, str | None]]) -> None:
        """CREATE and SUBSCRIBE, pipelined (RFC 3501 5.5; LOOK_WINDOW mailboxes a write),
        of those of *wanted* the LIST made at login did not show: each one created is
        then taken as there by ``ensure_mailbox``. The others (refused, a name that
        cannot be sent) are left to it, as before: it creates, falls back or names."""
        todo = []
        for name, use in wanted:
            if name.upper() == "INBOX" or name in self.listed:
                continue
            try:
                self.client._normalise_folder(name)
            except (UnicodeError, ValueError):
                continue
            with_use = use and self.has("CREATE-SPECIAL-USE")
            todo.append((name, [b"CREATE %s" + (b" (USE (%s))" % use.encode() if with_use
                                                 else b""), b"SUBSCRIBE %s"]))
        for start in range(0, len(todo), self.LOOK_WINDOW):
            window = todo[start:start + self.LOOK_WINDOW]
            for (name, _), (ok, _) in zip(window, self._pipelined(window)):
                if ok:
                    self.listed.add(name)

    @connection_guard
    def ensure_mailbox(self, name: str, special_use: str | None = None) -> str:
        """Create *name* (and subscribe it) unless it exists; return the name used.

        With *special_use* and CREATE-SPECIAL-USE (RFC 6154) the server is told
        what the folder is for. If the server refuses the name, its
        ``fallback_name`` is used instead.
        """
        try:
            self.client._normalise_folder(name)
        except (UnicodeError, ValueError) as e:
            raise MailboxError(f"the name {name!r} cannot be sent to the server ({e}); map "
                               "the folder to another name with --map") from None
        if name.upper() == "INBOX" or name in self.listed:
            return name  # listed at login: no LIST each (a round trip a mailbox of a run)
        try:  # not listed then: one made since (by another connection) refuses the CREATE
            if special_use and self.has("CREATE-SPECIAL-USE"):
                typ, data = self.client._imap._simple_command(
                    "CREATE", self.client._normalise_folder(name), f"(USE ({special_use}))")
                if typ != "OK":
                    raise IMAPClientError(f"create failed: {data}")
            else:
                self.client.create_folder(name)
        except IMAPClientError as e:
            if self._selectable(name):  # another connection created it meanwhile
                return name
            if _lost_connection(e):
                raise
            other = fallback_name(name, self.layout.delimiter)
            if other == name:
                raise MailboxError(f"the server refused to create mailbox {name!r} ({e}); "
                                   "map the folder to another name with --map") from None
            return self.ensure_mailbox(other)
        self._unanswered(b"SUBSCRIBE", name)  # a convenience: its answer is not waited for
        return name

    def _unanswered(self, command: bytes, name: str) -> None:
        """Send *command* for mailbox *name* without waiting for its answer (a round
        trip a new mailbox): imaplib files it on the way to the next command's answer
        and ``_forget_answered`` drops it. For commands whose refusal changes nothing."""
        imap = self.client._imap
        tag = imap._new_tag()
        imap.send(tag + b" " + command + b" " + self.client._normalise_folder(name) + b"\r\n")
        self._unawaited.append(tag)

    def _forget_answered(self) -> None:
        tagged = self.client._imap.tagged_commands
        for tag in self._unawaited:
            if tagged.get(tag) is not None:
                del tagged[tag]
        self._unawaited = [tag for tag in self._unawaited if tag in tagged]

    def _selectable(self, name: str) -> bool:
        """True if *name* exists and can hold mail.

        A parent that only exists because a child was created (Dovecot lists it
        \\NonExistent or \\Noselect) does not count: it must still be CREATEd.
        """
        for flags, _, found in self._list(name):
            if found == name:
                return _holds_mail(flags)
        return False

    @connection_guard
    def existing_name(self, name: str) -> str | None:
        """*name*, or its fallback spelling, if either exists on the server and holds mail."""
        for candidate in (name, fallback_name(name, self.layout.delimiter)):
            if candidate.upper() == "INBOX" or self._selectable(candidate):
                return candidate
        return None

    @connection_guard
    def existing_names(self, names: list[str]) -> dict[str, str | None]:
        """``existing_name`` of each of *names*, from one LIST of every mailbox (the same
        rule: a \\Noselect or \\NonExistent parent does not count)."""
        selectable = {found for flags, _, found in self._list("*")
                      if _holds_mail(flags)}
        return {name: next((c for c in (name, fallback_name(name, self.layout.delimiter))
                            if c.upper() == "INBOX" or c in selectable), None)
                for name in names}

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
            if _lost_connection(e):
                raise
            raise MailboxError(f"the server will not open mailbox {name!r} ({e})") from None
        self._forget_answered()
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
                _decode(f) for f in info.get(b"PERMANENTFLAGS", ())),
        )

    def examine(self, name: str) -> SelectInfo:
        """Read-only SELECT (EXAMINE): what ``plan`` and ``verify`` use."""
        return self.select(name, readonly=True)

    LOOK_WINDOW = 50  # mailboxes whose commands go in one write

    @connection_guard
    def look_into(self, names: list[str], sizes: dict[str, int] | None = None
                  ) -> dict[str, tuple[SelectInfo, array]]:
        """``examine`` and ``uids`` of each of *names*, for many mailboxes at once.

        One by one that is two round trips a mailbox (a profile of 500 folders over a
        50 ms link: 50 s at the end of every run). The commands are pipelined
        (RFC 3501 5.5), LOOK_WINDOW mailboxes a write: STATUS for the size of each,
        then EXAMINE and UID SEARCH UID 1:* of those up to SEARCH_PAGE messages (a
        bigger one is read in pages, as ``uids`` does). A mailbox missing from the
        answer (too big, refused, an answer of a shape ``search_response`` does not
        read) is for the caller to look into the ordinary way. *sizes*: how many
        messages some of them hold, as the caller saw them (no STATUS for those).
        Read-only.
        """
        sizes = sizes or {}
        found: dict[str, tuple[SelectInfo, array]] = {}
        for start in range(0, len(names), self.LOOK_WINDOW):
            window = names[start:start + self.LOOK_WINDOW]
            counts = {name: sizes[name] for name in window if name in sizes}
            unknown = [name for name in window if name not in counts]
            counts.update((name, n) for name, (_, _, n) in self._statuses(unknown).items())
            small = [name for name in window if counts.get(name, 1 << 62) <= self.SEARCH_PAGE]
            looked = self._pipelined([(name, [b"EXAMINE %s", b"UID SEARCH UID 1:*"])
                                      for name in small])
            for name, (ok, (opened, searched)) in zip(small, looked):
                seen = search_response.examined(opened)
                uids = search_response.search_uids(searched.get("SEARCH", []), UID_TYPE,
                                                   MAX_UID)
                if ok and seen is not None and uids is not None:
                    validity, uidnext, exists = seen
                    found[name] = (SelectInfo(validity, uidnext, exists, frozenset()), uids)
            self._after_pipelined(small, looked)
        return found

    @connection_guard
    def statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:
        """``status`` of each of *names* the server answered for, asked at once
        (pipelined, LOOK_WINDOW a write); a mailbox that does not exist is left out."""
        found = {}
        for start in range(0, len(names), self.LOOK_WINDOW):
            found.update(self._statuses(names[start:start + self.LOOK_WINDOW]))
        return found

    def _statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:
        found = {}
        asked = self._pipelined([(name, [b"STATUS %s (UIDVALIDITY UIDNEXT MESSAGES)"])
                                 for name in names])
        for name, (ok, [answer]) in zip(names, asked):
            items = search_response.status_items(answer.get("STATUS", [])) if ok else None
            if items and {b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"} <= items.keys():
                found[name] = (items[b"UIDVALIDITY"], items[b"UIDNEXT"], items[b"MESSAGES"])
        return found

    def _pipelined(self, commands: list[tuple[str, list[bytes]]]) -> list[tuple[bool, list]]:
        """Send each mailbox's commands (``%s``: its name), all in one write; for each
        mailbox (every command answered OK, the untagged data of each command)."""
        imap = self.client._imap
        sent, lines = [], []
        for name, templates in commands:
            quoted = self.client._normalise_folder(name)
            tags = [imap._new_tag() for _ in templates]
            lines += [tag + b" " + (t % quoted if b"%s" in t else t) + b"\r\n"
                      for tag, t in zip(tags, templates)]
            sent.append(tags)
        if not sent:
            return []
        imap.untagged_responses = {}  # what came before is no answer of ours
        imap.send(b"".join(lines))
        out = []
        for tags in sent:
            ok, answers = True, []
            for tag in tags:
                try:
                    typ, _ = imap._command_complete("LOOK", tag)
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as e:  # BAD: this command only
                    if _lost_connection(e):
                        raise
                    typ = "BAD"
                ok = ok and typ == "OK"
                answers.append(imap.untagged_responses)
                imap.untagged_responses = {}
            out.append((ok, answers))
        return out

    @connection_guard
    def max_uid(self) -> int | None:
        """Highest UID in the selected mailbox, or None if empty."""
        uids = self.client.search(["UID", "*"])
        return max(uids) if uids else None

    # -- reading back ------------------------------------------------------

    SEARCH_PAGE = 20_000  # messages per UID SEARCH answer (see ``uids``)

    @connection_guard
    def uids(self, uid_from: int = 1) -> array:
        """Every UID >= *uid_from* in the selected mailbox, ascending, in an array (4
        bytes a UID). From 1, read in pages (imapclient's parse of one answer of a
        million UIDs peaked at 240 MB). The pages are UID ranges, cut at the UIDs of
        every SEARCH_PAGE-th message: UIDs never move, so a message expunged or added
        by another client meanwhile cannot make one missed (message numbers shift; an
        EXPUNGE may come with any UID command). From later on (the messages above a
        batch's UIDNEXT after a reconnect: a few), one answer."""
        if uid_from > 1:
            return self._uids_from(uid_from)
        if not self.exists:
            return self._uid_array(self.client.search(["ALL"]))
        marks = ",".join(str(n) for n in range(self.SEARCH_PAGE, self.exists + 1,
                                                  self.SEARCH_PAGE))
        found = array(UID_TYPE)
        try:
            low = 1
            for high in sorted(self.client.search([marks])) if marks else []:
                found += self._uid_array(self.client.search(["UID", f"{low}:{high}"]))
                low = high + 1
            found += self._uids_from(low)
        except IMAPClientError as e:
            if _lost_connection(e):
                raise
            return self._uid_array(self.client.search(["ALL"]))  # fewer than at the SELECT
        return found

    def _uids_from(self, low: int) -> array:
        """UID SEARCH low:*, less the last message it names when that is below *low*
        (n:* always names the last message, RFC 3501)."""
        return self._uid_array(u for u in self.client.search(["UID", f"{low}:*"]) if u >= low)

    def _uid_array(self, uids) -> array:
        """*uids* sorted in an array; a number no IMAP UID can be is a broken mailbox."""
        try:
            return array(UID_TYPE, sorted(uids))
        except OverflowError:
            raise MailboxError(
                f"{self.config.address} listed a UID outside 1..{MAX_UID} in {self.selected!r}, "
                "which IMAP does not allow: the server's index of that folder is damaged; "
                "its administrator can rebuild it (Dovecot: doveadm force-resync)") from None

    @connection_guard
    def search_header(self, field: str, value: str) -> list[int] | None:
        """UIDs of the selected mailbox whose *field* contains *value* (UID SEARCH
        HEADER: the server looks, nothing is fetched); None when it will not search."""
        try:
            return sorted(self.client.search(["HEADER", field, value]))
        except IMAPClientError as e:
            if _lost_connection(e):
                raise
            log.info("the server would not search %s headers: %s", field, e)
            return None

    @connection_guard
    def fingerprints(self, uids: list[int], chunk: int = 2000) -> list[ServerCopy]:
        """What matching needs of the messages *uids* (selected mailbox)."""
        return list(self._fingerprints(uids, chunk))

    @connection_guard
    def contents(self, uids: list[int]) -> dict[int, tuple[str, str]]:
        """(content hash, body hash) of *uids* in the selected mailbox, one message
        read at a time (BODY.PEEK[]: read-only): where headers cannot say which
        message a copy is (``reconcile``), its bytes do. A message the server will
        not give is left out."""
        out = {}
        for uid in uids:
            try:
                resp = self.client.fetch([uid], ["BODY.PEEK[]"])
            except IMAPClientError as e:
                if _lost_connection(e):
                    raise
                log.info("the server would not give message %d: %s", uid, _said(e))
                continue
            item = resp.get(uid) or {}
            data = item.get(b"BODY[]")
            if isinstance(data, bytes):
                out[uid] = fingerprint.hashes_of(data)
        return out

    def _fingerprints(self, uids: list[int], chunk: int):
        for i in range(0, len(uids), chunk):
            part = uids[i:i + chunk]
            resp = self._fetch_fingerprint_items(part)
            for uid in part:
                item = resp.get(uid)
                if item:
                    yield _copy_of(uid, item)

    COPIES_AT_ONCE = 20_000  # fingerprints of a window of mailboxes read at once (copies_in)
    SMALL_MAILBOX = 2_000  # a mailbox up to this size is read whole in such a window

    @connection_guard
    def copies_in(self, names: list[str]) -> dict[str, tuple[SelectInfo, list[ServerCopy]]]:
        """``examine`` and the fingerprints of every message of each of *names* that
        holds up to SMALL_MAILBOX messages, many mailboxes at once: EXAMINE and UID
        FETCH 1:* pipelined (``verify`` of a profile of 200 folders over a 50 ms link
        spent 35 s on three round trips a folder). STATUS first, for the sizes; a
        window holds up to COPIES_AT_ONCE messages. A mailbox left out (bigger,
        refused, an answer of another shape) is for the caller to read one by one.
        Read-only (BODY.PEEK); leaves any one of them selected."""
        sizes = {name: n for name, (_, _, n) in self.statuses(names).items()
                 if n <= self.SMALL_MAILBOX}
        found: dict[str, tuple[SelectInfo, list[ServerCopy]]] = {}
        windows: list[list[str]] = []
        held = 0  # messages in the last window
        for name in (n for n in names if n in sizes):
            if not windows or len(windows[-1]) == self.LOOK_WINDOW or \
                    held + sizes[name] > self.COPIES_AT_ONCE:
                windows.append([])
                held = 0
            windows[-1].append(name)
            held += sizes[name]
        fetch = b"UID FETCH 1:* " + self.FINGERPRINT_ITEMS.encode()
        for window in windows:
            answers = self._pipelined([(w, [b"EXAMINE %s", fetch]) for w in window])
            for w, (ok, (opened, fetched)) in zip(window, answers):
                seen = search_response.examined(opened)
                items = self._fingerprint_answer(fetched.get("FETCH", [])) if ok else {}
                if ok and seen is not None and all(b"RFC822.SIZE" in i for i in items.values()):
                    validity, uidnext, exists = seen  # (a flag change alone: one by one)
                    found[w] = (SelectInfo(validity, uidnext, exists, frozenset()),
                                [_copy_of(uid, items[uid]) for uid in sorted(items)])
            self._after_pipelined(window, answers)
        return found

    def _after_pipelined(self, names: list[str], answers) -> None:
        """imaplib's view of the connection after pipelined EXAMINEs of *names*."""
        if names:
            ok = answers[-1][0]  # a refused EXAMINE leaves none selected
            imap = self.client._imap
            imap.state, self.selected = ("SELECTED", names[-1]) if ok else ("AUTH", None)
            imap.is_readonly = True
            seen = search_response.examined(answers[-1][1][0])
            self.exists = seen[2] if seen else 0

    FINGERPRINT_ITEMS = f"({fingerprint.IMAP_HEADER_FIELDS} RFC822.SIZE FLAGS)"

    def _fetch_fingerprint_items(self, uids: list[int]) -> dict:
        """``client.fetch(uids, fingerprint items)``, the same commands and the same
        answer, read by ``fetch_response`` where it knows the shape (imapclient's
        general parser was most of the client's time: docs/performance.md), else by
        imapclient."""
        imap = self.client._imap
        tag = imap._command("UID", "FETCH", uid_set(uids), self.FINGERPRINT_ITEMS)
        typ, data = imap._command_complete("FETCH", tag)
        self.client._checkok("fetch", typ, data)
        _, data = imap._untagged_response(typ, data, "FETCH")
        return self._fingerprint_answer(data)

    def _fingerprint_answer(self, data: list) -> dict:
        resp = fingerprint_items(data)
        if resp is None:
            self.fetches_parsed_slowly += 1
            resp = parse_fetch_response(data, self.client.normalise_times, True)
        return resp

    @connection_guard
    def flags_of(self, uids: list[int]) -> dict[int, frozenset[str]]:
        """The flags of *uids* in the selected mailbox (one UID FETCH FLAGS)."""
        if not uids:
            return {}
        return {uid: frozenset(_decode(f) for f in flags)
                for uid, flags in self.client.get_flags(uids).items()}

    @connection_guard
    def add_flags(self, uids: list[int], flags: tuple[str, ...]) -> bool:
        """UID STORE +FLAGS.SILENT: add *flags* to messages we uploaded (never removes).
        False when the server refuses (a keyword it will not keep)."""
        if uids and flags:
            try:
                self.client.add_flags(uids, list(flags), silent=True)
            except IMAPClientError as e:
                if _lost_connection(e):
                    raise
                log.info("the server refused to add %s: %s", " ".join(flags), e)
                return False
        return True

    @connection_guard
    def stored_info(self, uids: list[int], chunk: int = 2000) -> dict[int, StoredInfo]:
        """FLAGS, RFC822.SIZE and INTERNALDATE of *uids* in the selected mailbox."""
        out = {}
        for i in range(0, len(uids), chunk):
            resp = self.client.fetch(uids[i:i + chunk], ["FLAGS", "RFC822.SIZE", "INTERNALDATE"])
            for uid, item in resp.items():
                out[uid] = StoredInfo(frozenset(_decode(f) for f in item.get(b"FLAGS", ())),
                                      int(item.get(b"RFC822.SIZE", -1)),
                                      item.get(b"INTERNALDATE"))
        return out

    @connection_guard
    def copy(self, uids: list[int], mailbox: str) -> AppendResult:
        """UID COPY *uids* (selected mailbox) into *mailbox*; COPYUID parsed.

        A refusal comes back as a result; a lost connection raises ConnectionFailed
        and leaves the outcome unknown (the caller journaled the copies)."""
        imap = self.client._imap  # imapclient's copy() drops the tagged text with COPYUID
        try:
            typ, data = imap._simple_command("UID", "COPY", uid_set(uids),
                                             self.client._normalise_folder(mailbox))
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:  # BAD
            return parse_copy_response("BAD", [server_words(e)])
        return parse_copy_response(typ, data)

    @connection_guard
    def header_fields(self, uids: list[int], chunk: int = 500) -> dict[int, dict[str, str]]:
        """Message-ID, Date, From, Subject of *uids* in the selected mailbox, for people."""
        out = {}
        for i in range(0, len(uids), chunk):
            resp = self.client.fetch(uids[i:i + chunk], [fingerprint.IMAP_HEADER_FIELDS])
            for uid, item in resp.items():
                found = headers.get_headers(_header_item(item),
                                            {"message-id", "date", "from", "subject"})
                out[uid] = {name: headers.decode_words(values[0])
                            for name, values in found.items()}
        return out

    # -- writing -----------------------------------------------------------

    def append_batch(self, mailbox: str, items: list[AppendItem]) -> AppendResult:
        """APPEND *items* (at most ``batch_limit``) to *mailbox* and wait for the answer.

        A refusal comes back as a result (not an exception); connection errors
        raise ConnectionFailed and leave the outcome unknown.
        """
        if len(items) > self.batch_limit(len(items)):
            raise ValueError("more messages than one APPEND may carry here (see batch_limit)")
        try:
            if len(items) == 1 and isinstance(items[0].data, Streamed):
                return self._append_streamed(mailbox, items[0])
            if len(items) == 1 and b"\x00" in items[0].data:
                return self._append_binary(mailbox, items[0])
            if len(items) > 1 and self.has("MULTIAPPEND"):
                msgs = [_append_dict(item) for item in items]
                typ, data = self.client.multiappend(mailbox, msgs)
                return parse_append_response(typ, data)
            return self._append_one(mailbox, items[0])
        except (OSError, socket.timeout, IMAPClientError, imaplib.IMAP4.error) as e:
            if not _lost_connection(e):
                return AppendResult(ok=False, text=server_words(e).decode("utf-8", "replace"))
            raise lost(f"connection lost during APPEND to {mailbox!r}: "
                       f"{type(e).__name__}: {e}") from None

    def batch_limit(self, wanted: int) -> int:
        """Messages one APPEND may carry: *wanted* with MULTIAPPEND (RFC 3502), else 1."""
        return wanted if self.has("MULTIAPPEND") else 1

    @property
    def can_pipeline(self) -> bool:
        """Several APPENDs may be in flight: LITERAL+ removes the wait for '+'."""
        return self.has("LITERAL+")

    @connection_guard
    def append_start(self, mailbox: str, items: list[AppendItem]) -> bytes:
        """Send one (MULTI)APPEND without waiting for its answer; returns its tag.

        Needs LITERAL+ (``can_pipeline``); several items need MULTIAPPEND.
        Collect the answer with :meth:`append_finish`, in the order sent.
        """
        imap = self.client._imap
        tag = imap._new_tag()
        parts = [tag + b" APPEND " + self.client._normalise_folder(mailbox)]
        for item in items:
            parts += (_append_args(item) + b" {%d+}\r\n" % len(item.data), item.data)
        parts.append(b"\r\n")
        if sum(map(len, parts)) < BIG_MESSAGE:  # small: one write (the join copies once)
            imap.send(b"".join(parts))
        else:  # a big message goes to the socket as it is: never a second copy of it
            for part in _coalesced(parts):
                imap.send(part)
        return tag

    @connection_guard
    def append_finish(self, tag: bytes) -> AppendResult:
        """The server's answer to the APPEND sent with *tag* (BAD counts as a refusal)."""
        imap = self.client._imap
        try:
            typ, data = imap._command_complete("APPEND", tag)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            return parse_append_response("BAD", [server_words(e)])
        return parse_append_response(typ, data)

    def _append_binary(self, mailbox: str, item: AppendItem) -> AppendResult:
        """APPEND with a BINARY literal8 (RFC 3516), for a message containing NUL bytes.

        imapclient has no literal8; the command is written on its connection,
        waiting for the continuation as a synchronising literal requires.
        """
        imap = self.client._imap
        tag, refused = self._literal_append(mailbox, item, b"~")
        if refused is not None:
            return refused
        imap.send(item.data + b"\r\n")
        typ, data = imap._command_complete("APPEND", tag)
        return parse_append_response(typ, data)

    def _literal_append(self, mailbox: str, item: AppendItem, binary: bytes
                        ) -> tuple[bytes, AppendResult | None]:
        """Send an APPEND's line up to its synchronising literal (*binary* b"~": a
        literal8) and wait for the server's "go ahead": (tag, None), or (tag, its
        answer) when it refused before the literal."""
        imap = self.client._imap
        tag = imap._new_tag()
        imap.send(tag + b" APPEND " + self.client._normalise_folder(mailbox) +
                  _append_args(item) + b" " + binary + b"{%d}\r\n" % len(item.data))
        while imap._get_response():  # wait for "+", or the tagged refusal
            if imap.tagged_commands.get(tag):
                typ, data = imap.tagged_commands.pop(tag)
                return tag, parse_append_response(typ, data)
        return tag, None

    def _append_streamed(self, mailbox: str, item: AppendItem) -> AppendResult:
        """APPEND a big message written from its file as it is read (``Streamed``): a
        synchronising literal (every server), its pieces checked against the plan as
        they go; the command is ended only when all were the plan's bytes. Otherwise
        the connection is dropped mid-literal, so the server stores nothing, and the
        SourceError says the source changed."""
        imap = self.client._imap
        tag, refused = self._literal_append(mailbox, item, b"")
        if refused is not None:
            return refused
        try:
            for piece in item.data.checked():
                imap.send(piece)
        except SourceError:
            with contextlib.suppress(OSError):
                imap.shutdown()  # the literal is never completed: nothing is stored
            self.client = None
            raise
        imap.send(b"\r\n")
        typ, data = imap._command_complete("APPEND", tag)
        return parse_append_response(typ, data)

    def _append_one(self, mailbox: str, item: AppendItem) -> AppendResult:
        try:
            text = self.client.append(mailbox, item.data, flags=item.flags,
                                      msg_time=item.internaldate)
        except IMAPClientError as e:
            if _lost_connection(e):
                raise
            message = server_words(e)
            inner = re.search(rb"\[[A-Z-]+.*", message)
            return parse_append_response("NO", [inner.group(0) if inner else message])
        return parse_append_response("OK", [text])


def _copy_of(uid: int, item: dict) -> ServerCopy:
    """A server message's fingerprint from its FETCH answer (``FINGERPRINT_ITEMS``)."""
    fields = fingerprint.answer_fingerprint_fields(_header_item(item))
    size = int(item[b"RFC822.SIZE"])
    return ServerCopy(
        uid, fingerprint.header_key_from_fields(fields, fingerprint.size_fallback(size)),
        size, fingerprint.message_id_key(fields),
        frozenset(_decode(f) for f in item.get(b"FLAGS", ())))


def _mailbox_name(raw: bytes) -> str:
    """A LIST name as text: modified UTF-7 decoded, or (a name a server sent in some
    other encoding) its bytes kept as undecodable escapes, never an error."""
    try:
        raw.decode("ascii")
        return decode_utf7(raw)
    except (UnicodeError, ValueError, IndexError):
        return raw.decode("utf-8", "surrogateescape")


def _holds_mail(flags) -> bool:
    """A LISTed mailbox that can hold mail: a parent that exists only because a child
    was created (Dovecot lists it \\NonExistent or \\Noselect) must still be CREATEd."""
    return not ({b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags})


def _login(client: imapclient.IMAPClient, user: str, password: str) -> None:
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
    imap = client._imap
    imap.literal = password.encode("utf-8")
    try:
        typ, data = imap._simple_command("LOGIN", _quoted(user.encode("utf-8")))
    except imaplib.IMAP4.error as e:
        raise LoginError(str(e)) from None
    if typ != "OK":
        raise LoginError(str(data))
    imap.state = "AUTH"


def _quoted(value: bytes) -> bytes:
    """An IMAP quoted string (for values without CR, LF or NUL)."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


BIG_MESSAGE = 8 << 20  # an APPEND this big is written in parts, not joined first


def _coalesced(parts: list[bytes]) -> list[bytes]:
    """*parts* with the small ones next to each other joined: few writes, and no big
    part copied."""
    out: list[bytes] = []
    small: list[bytes] = []
    for part in parts:
        if len(part) < BIG_MESSAGE:
            small.append(part)
            continue
        if small:
            out.append(b"".join(small))
            small = []
        out.append(part)
    if small:
        out.append(b"".join(small))
    return out


def _append_args(item: AppendItem) -> bytes:
    """ the ' (flags) "date"' part of an APPEND, for one message."""
    out = b""
    if item.flags:
        out += b" " + imapclient.imapclient.seq_to_parenstr(item.flags).encode()
    if item.internaldate is not None:
        out += b' "' + imapclient.imapclient.datetime_to_INTERNALDATE(
            item.internaldate).encode() + b'"'
    return out


def _append_dict(item: AppendItem) -> dict:
    d = {"msg": item.data, "flags": item.flags}
    if item.internaldate is not None:
        d["date"] = item.internaldate
    return d


def _header_item(item: dict) -> bytes:
    for key, value in item.items():
        if key.startswith(b"BODY[HEADER.FIELDS"):
            return value or b""
    return b""


def _decode(value) -> str:
    """A flag or delimiter as text: IMAP makes them ASCII atoms; a server that sends
    other bytes gets U+FFFD for them, not a traceback (no kept flag is non-ASCII)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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


def _quietly_logout(client) -> None:
    """LOGOUT; when every command was answered, without waiting for the server's BYE
    (a round trip at the end of every command): nothing of ours is left to answer."""
    imap = client._imap
    if not imap.tagged_commands:
        try:
            imap.send(imap._new_tag() + b" LOGOUT\r\n")
        except Exception:  # noqa: BLE001 - the connection is going away either way
            pass
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
        return
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection is going away either way
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
