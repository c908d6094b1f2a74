"""The target contract: what the engine, verify and plan may ask of a server.

Like mbsync's driver interface and restic's backend: a few operations with
their semantics written here, one real implementation (``target.imap``), an
in-memory one for the engine's unit tests (``tests/support/fake_target.py``), and
wrappers instead of flags (:class:`ReadOnlyTarget` for ``plan`` and
``verify``).

Semantics every implementation keeps:

* **The server only gains mail.** Nothing here deletes, expunges, moves or
  changes a stored message.
* **Errors are classified.** A lost connection raises ``ConnectionFailed``
  (the caller reconnects and retries the whole, idempotent, mailbox step);
  a throttling answer raises ``Throttled`` from the engine; a refusal of one
  mailbox raises ``MailboxError`` (that folder is skipped); a refused APPEND
  comes back as an ``AppendResult`` with ``ok=False``, never as an exception.
* **APPEND outcomes may be unknown.** If the connection drops after an
  APPEND was sent, the caller cannot know whether it was stored: it must have
  journaled the batch first and resolve it by fingerprints (``upload``).
* **A copy is journaled like an APPEND.** ``copy`` places messages of the
  selected mailbox into another one (UID COPY) and says which UIDs they got
  (COPYUID, RFC 4315): the caller journals the copies first and resolves an
  unknown outcome the same way.
* **One owner for the transport.** ``batch_limit`` says how many messages
  one APPEND may carry (MULTIAPPEND) and ``can_pipeline`` whether several may
  be in flight (LITERAL+); ``append_batch`` sends a message with NUL bytes as
  a BINARY literal by itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from array import array
from typing import Any, Protocol, Sequence, runtime_checkable

from migrate.providers import Provider
from migrate.target.config import TargetConfig

_BACKOFF = re.compile(r"(?i)backoff time:\s*(\d+)\s*milliseconds")
QUOTA_CODES = {"OVERQUOTA"}


@dataclasses.dataclass
class AppendResult:
    ok: bool
    uidvalidity: int | None = None
    uids: list[int] | None = None
    code: str | None = None  # response code, e.g. OVERQUOTA, LIMIT, TRYCREATE
    text: str = ""
    sources: list[int] | None = None  # UID COPY: the copied UIDs, paired with ``uids``

    @property
    def over_quota(self) -> bool:
        return self.code in QUOTA_CODES or "quota" in self.text.lower()

    @property
    def throttled(self) -> bool:
        """Office 365: "Request is throttled. Suggested Backoff Time: N milliseconds"."""
        return "throttl" in self.text.lower()

    @property
    def suggested_delay(self) -> float | None:
        m = _BACKOFF.search(self.text)
        return int(m.group(1)) / 1000 if m else None


class PlannedLike(Protocol):
    """What a server's limits are checked against (``planned.PlannedMessage``)."""

    size: int
    has_nul: bool
    longest_line: int


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    """What a server refuses whatever the mailbox: size, NUL bytes, long lines."""

    append_limit: int | None = None  # APPENDLIMIT or a provider's known limit, bytes
    binary: bool = True  # takes BINARY literals (messages with NUL bytes)
    line_limit: int | None = None  # longest line a provider takes

    def refusal(self, p: PlannedLike) -> str | None:
        """Why the server would refuse *p* (size, has_nul, longest_line), or None."""
        if self.append_limit is not None and p.size > self.append_limit:
            return f"larger than the server's limit of {self.append_limit} bytes"
        if p.has_nul and not self.binary:
            return "contains NUL bytes and the server has no BINARY"
        if self.line_limit is not None and p.longest_line > self.line_limit:
            return (f"has a line of {p.longest_line} characters; the server takes at most "
                    f"{self.line_limit}")
        return None


@dataclasses.dataclass
class AppendItem:
    data: bytes  # CRLF already
    flags: tuple[str, ...]
    internaldate: dt.datetime | None


@dataclasses.dataclass
class SelectInfo:
    uidvalidity: int
    uidnext: int | None
    exists: int
    permanent_flags: frozenset[str]


@dataclasses.dataclass(frozen=True)
class StoredInfo:
    """What a copy on the server carries besides its bytes (``stored_info``)."""

    flags: frozenset[str]
    size: int
    internaldate: dt.datetime | None


@runtime_checkable
class Target(Protocol):
    """A logged-in connection to the account mail is moved into."""

    config: TargetConfig  # where it is connected, as whom (survey names them)
    layout: ServerLayout  # namespace prefix, delimiter, special-use folders
    limits: ServerLimits
    provider: Provider  # the profile that applies (``generic`` when none), known at login
    selected: str | None  # the mailbox selected or examined last, if any

    def has(self, capability: str) -> bool: ...

    @property
    def can_pipeline(self) -> bool:
        """Several APPENDs may be in flight on this connection."""

    def batch_limit(self, wanted: int) -> int:
        """How many messages one APPEND may carry: *wanted* with MULTIAPPEND, else 1."""

    # -- mailboxes -----------------------------------------------------------
    def ensure_mailbox(self, name: str, special_use: str | None = None) -> str:
        """Create *name* unless it exists; the name used (a fallback if refused).
        Raises MailboxError if the server will not have it under any name."""

    def create_mailboxes(self, wanted: list[tuple[str, str | None]]) -> None:
        """Create those of *wanted* (name, special use) that are not there, many at once
        (a round trip each was a third of a first run of many folders over a WAN).
        ``ensure_mailbox`` still decides each mailbox: one refused here is tried there
        again, with its fallback name. A server may do nothing here."""

    def existing_name(self, name: str) -> str | None:
        """*name* or its fallback spelling if it exists and holds mail; read-only."""

    def existing_names(self, names: list[str]) -> dict[str, str | None]:
        """``existing_name`` of each of *names*, asked at once: a server is asked for
        its whole list once, not once per mailbox (a round trip each, 500 of them for
        a profile of 500 folders at every check)."""
        return {name: self.existing_name(name) for name in names}

    def status(self, name: str) -> tuple[int, int, int]:
        """(UIDVALIDITY, UIDNEXT, MESSAGES) without selecting; read-only."""

    def statuses(self, names: list[str]) -> dict[str, tuple[int, int, int]]:
        """``status`` of those of *names* the server answered for, asked at once (IMAP:
        pipelined); a mailbox left out is for the caller to look into one by one."""
        return {}

    def select(self, name: str, readonly: bool = False) -> SelectInfo: ...

    def examine(self, name: str) -> SelectInfo:
        """Read-only select: no flag or \\Recent change."""

    def copies_in(self, names: list[str]) -> dict[str, tuple[SelectInfo, list[ServerCopy]]]:
        """name -> (``examine``, the ``fingerprints`` of all its messages, by UID) of
        those of *names* the server answered for at once (IMAP: small mailboxes,
        pipelined); the others are for the caller to read one by one. Read-only;
        leaves any one of them selected."""
        return {}

    def look_into(self, names: list[str], sizes: dict[str, int] | None = None
                  ) -> dict[str, tuple[SelectInfo, Sequence[int]]]:
        """name -> (``examine``, ``uids``) of those of *names* the server answered for
        at once (IMAP: pipelined); the others are for the caller to look into one by
        one. *sizes*: how many messages some of them hold, as the caller saw them.
        Read-only; leaves any one of them selected."""
        return {}

    # -- reading back (selected mailbox) --------------------------------------
    def max_uid(self) -> int | None: ...

    def uids(self, uid_from: int = 1) -> Sequence[int]:
        """Every UID >= *uid_from* in the mailbox, ascending (cheap: no message is
        fetched; 4 bytes a UID)."""

    def fingerprints(self, uids: list[int]) -> list[ServerCopy]:
        """``reconcile.ServerCopy`` of the messages *uids* (``reconcile.fetch_copies``
        asks a page at a time)."""

    def contents(self, uids: list[int]) -> dict[int, tuple[str, str]]:
        """(content hash, body hash) of the messages *uids*, read whole, one at a
        time: only for the few copies whose headers cannot say which message
        they are (``reconcile``)."""

    def search_header(self, field: str, value: str) -> list[int] | None:
        """UIDs whose *field* header contains *value* (the server searches); None
        when the server will not."""

    def header_fields(self, uids: list[int]) -> dict[int, dict[str, str]]: ...

    def flags_of(self, uids: list[int]) -> dict[int, frozenset[str]]:
        """The flags of *uids* (selected mailbox); read-only."""

    def add_flags(self, uids: list[int], flags: tuple[str, ...]) -> bool:
        """Add *flags* to *uids* (UID STORE +FLAGS): for messages our runs uploaded only.
        False when the server refuses them."""

    def stored_info(self, uids: list[int]) -> dict[int, StoredInfo]:
        """Flags, size and INTERNALDATE of *uids* (selected mailbox; missing ones left
        out); read-only."""

    # -- writing -------------------------------------------------------------
    def copy(self, uids: list[int], mailbox: str) -> AppendResult:
        """UID COPY *uids* (selected mailbox) into *mailbox*: an ``AppendResult`` whose
        ``sources`` and ``uids`` pair old and new UIDs (COPYUID). All or nothing."""

    def append_batch(self, mailbox: str, items: list[AppendItem]) -> AppendResult:
        """APPEND *items* (at most ``batch_limit``) and wait: an ``AppendResult``."""

    def append_start(self, mailbox: str, items: list[AppendItem]) -> bytes:
        """Send an APPEND without waiting (``can_pipeline``); its tag."""

    def append_finish(self, tag: bytes) -> AppendResult:
        """The ``AppendResult`` of the APPEND sent with *tag*, in the order sent."""

    # -- the account ------------------------------------------------------------
    def quota(self) -> tuple[int, int] | None: ...

    def round_trip(self) -> float:
        """Median seconds of a command and its answer (``plan``'s estimate)."""

    def probe_send_rate(self) -> float | None:
        """Bytes a second the server reads, measured without storing anything; None
        when it cannot be measured."""

    def close(self) -> None: ...


class ReadOnlyViolation(AssertionError):
    """A read-only command tried to change the server: a bug, never a user error."""


class ReadOnlyTarget:
    """What ``plan`` and ``verify`` receive: every read goes through, any write raises.

    Read-only by construction, not by promise: CREATE, SELECT (which changes
    \\Recent) and APPEND are not reachable through it.
    """

    _WRITES = frozenset({"ensure_mailbox", "create_mailboxes", "append_batch", "append_start",
                         "append_finish", "select", "add_flags", "copy"})

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)

    def __getattr__(self, name: str) -> Any:
        if name in self._WRITES:
            def refuse(*args: object, **kwargs: object) -> None:
                raise ReadOnlyViolation(f"{name} on a read-only target (plan and verify never "
                                        "change the server)")
            return refuse
        return getattr(self._inner, name)

    def examine(self, name: str) -> SelectInfo:
        info: SelectInfo = self._inner.select(name, readonly=True)
        return info

    def __enter__(self) -> ReadOnlyTarget:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._inner.__exit__(*exc)


# -- what the server's names and messages are, as the contract speaks of them ----------

UID_TYPE = "I" if array("I").itemsize >= 4 else "L"  # an IMAP UID is 32 bits
MAX_UID = 2 ** 32 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class ServerCopy:
    """One message on the server, as far as matching needs it."""

    uid: int
    header_key: str
    size: int
    message_id: str = ""  # normalised (fingerprint.normalise_message_id), "" when none
    flags: frozenset[str] = frozenset()  # as the server keeps them (verify compares them)


@dataclasses.dataclass(frozen=True)
class ServerLayout:
    """What the server told us about its mailbox names."""

    prefix: str = ""  # personal namespace prefix, e.g. "INBOX."
    delimiter: str = "/"
    special_use: dict[str, str] = dataclasses.field(default_factory=dict)  # "\\Sent" -> name
    existing: frozenset[str] = frozenset()  # mailbox names that exist
    reserved: frozenset[str] = frozenset()  # casefolded top-level names the provider keeps
    refused_first: str = ""  # characters a name may not begin with (Gmail: "^")


_OFTEN_REFUSED = ".~%*\\\"&"


def fallback_name(target: str, delimiter: str) -> str:
    """A safer spelling of *target*, used when the server refuses to CREATE it.

    Characters servers often reject inside a name (Dovecot's maildir refuses
    '.') become '_'. Deterministic, so re-runs and ``verify`` find the same name.
    """
    parts = target.split(delimiter) if delimiter else [target]
    safe = ["".join("_" if c in _OFTEN_REFUSED and c != delimiter else c for c in part)
            for part in parts]
    return delimiter.join(safe) if delimiter else safe[0]


def uid_set(uids: Sequence[int]) -> bytes:
    """*uids* as an IMAP sequence set with ranges: [1, 2, 3, 7] -> b"1:3,7". Ascending
    input (a server's listing) is read as it comes: no copy of a million UIDs."""
    if any(a > b for a, b in zip(uids, itertools.islice(uids, 1, None))):
        uids = sorted(uids)
    out, run = [], None
    for uid in uids:
        if run and uid <= run[1] + 1:
            run[1] = max(run[1], uid)
        else:
            run = [uid, uid]
            out.append(run)
    return b",".join(b"%d" % a if a == b else b"%d:%d" % (a, b) for a, b in out)
