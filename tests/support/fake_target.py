"""An in-memory IMAP account implementing the target contract (migrate/target/base.py).

For the engine's unit tests: fast, and able to do what a real server does
only by bad luck: refuse chosen messages, throttle, drop the connection
before or after storing a batch, run out of quota. A ``FakeServer`` is the
account (shared by all connections); each ``FakeTarget`` is one connection.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

from migrate import fingerprint, headers, providers
from migrate.errors import ConnectionFailed, MailboxError, SessionEnded, TooManyConnections
from migrate.target.base import (
    AppendItem,
    AppendResult,
    SelectInfo,
    ServerCopy,
    ServerLayout,
    ServerLimits,
    StoredInfo,
)


@dataclasses.dataclass
class Stored:
    uid: int
    data: bytes
    flags: tuple
    internaldate: object


@dataclasses.dataclass
class FakeMailbox:
    uidvalidity: int
    uidnext: int = 1
    messages: list = dataclasses.field(default_factory=list)


class FakeServer:
    def __init__(self, capabilities=("MULTIAPPEND", "LITERAL+", "UIDPLUS", "BINARY"),
                 layout: ServerLayout | None = None):
        self.capabilities = frozenset(capabilities)
        self.layout = layout or ServerLayout()
        self.mailboxes: dict[str, FakeMailbox] = {"INBOX": FakeMailbox(1)}
        self._validity = itertools.count(100)
        self.appends = 0  # APPEND commands received
        self.refuse = lambda item: None  # -> NO text for a message, or None
        self.refuse_create: set[str] = set()
        self.throttle_on: set[int] = set()  # APPEND numbers answered "throttled"
        self.drop_on: dict[int, str] = {}  # APPEND number -> "before" | "after" storing
        self.quota_bytes: int | None = None
        self.connections = 0  # opened in all
        self.open = self.most_open = 0  # open now, and at most at once
        self.max_connections: int | None = None  # "[ALERT] Too many simultaneous connections"
        self.log: list[tuple[str, int]] = []  # (mailbox, messages) per stored APPEND
        self.drop_flags = False  # store APPENDed messages without their flags (some providers)
        self.refuse_keyword_store = False  # UID STORE of a keyword: NO
        self.stores: list[tuple[str, tuple, tuple]] = []  # (mailbox, uids, flags) per +FLAGS
        self.copies: list[tuple[str, str, int]] = []  # (from, to, messages) per stored COPY
        self.copy_drop: dict[int, str] = {}  # COPY number -> "before" | "after" storing
        self.refuse_copy: str | None = None  # NO text for every COPY
        self.copy_commands = 0
        self.created_at_once: list[list[str]] = []  # the names of each create_mailboxes
        self.crawl_after: int | None = None  # from this APPEND on, store at crawl_rate bytes/s
        self.crawl_rate = 500.0

    def used(self) -> int:
        return sum(len(m.data) for box in self.mailboxes.values() for m in box.messages)

    def create(self, name: str) -> None:
        if name in self.refuse_create:
            raise MailboxError(f"the server refused to create mailbox {name!r} (fake)")
        self.mailboxes.setdefault(name, FakeMailbox(next(self._validity)))

    def recreate(self, name: str) -> None:
        """Another client deleted the mailbox and made it again: new UIDVALIDITY."""
        self.mailboxes[name] = FakeMailbox(next(self._validity))

    def receive(self, mailbox: str, items: list[AppendItem]) -> AppendResult:
        """One APPEND (all-or-nothing, as MULTIAPPEND is)."""
        self.appends += 1
        n = self.appends
        if self.drop_on.get(n) == "before":
            raise ConnectionFailed(f"fake: connection lost before APPEND {n} was stored")
        if self.drop_on.get(n) == "bye-expired":  # Gmail past its daily budget
            raise SessionEnded("connection lost during append_batch: abort: "
                               "BYE Session expired, please login again.")
        if n in self.throttle_on:
            return AppendResult(False, text="Request is throttled. Suggested Backoff Time: "
                                             "20 milliseconds")
        box = self.mailboxes.get(mailbox)
        if box is None:
            return AppendResult(False, code="TRYCREATE", text="[TRYCREATE] no such mailbox")
        for item in items:
            why = self.refuse(item)
            if why:
                return AppendResult(False, code="CANNOT", text=why)
        size = sum(len(i.data) for i in items)
        if self.quota_bytes is not None and self.used() + size > self.quota_bytes:
            return AppendResult(False, code="OVERQUOTA", text="[OVERQUOTA] Quota exceeded")
        if self.crawl_after is not None and n >= self.crawl_after:
            time.sleep(size / self.crawl_rate)  # Gmail past its budget, instead of BYE
        uids = []
        for item in items:
            box.messages.append(Stored(box.uidnext, item.data, () if self.drop_flags
                                       else item.flags, item.internaldate))
            uids.append(box.uidnext)
            box.uidnext += 1
        self.log.append((mailbox, len(items)))
        if self.drop_on.get(n) == "after":
            raise ConnectionFailed(f"fake: connection lost after APPEND {n} was stored")
        return AppendResult(True, box.uidvalidity, uids, text="[APPENDUID] OK")


    def copy(self, source: str, uids, mailbox: str) -> AppendResult:
        """One UID COPY (all or nothing); COPYUID when the server has UIDPLUS."""
        self.copy_commands += 1
        n = self.copy_commands
        if self.copy_drop.get(n) == "before":
            raise ConnectionFailed(f"fake: connection lost before COPY {n} was stored")
        if self.refuse_copy:
            return AppendResult(False, text=self.refuse_copy)
        box = self.mailboxes.get(mailbox)
        if box is None:
            return AppendResult(False, code="TRYCREATE", text="[TRYCREATE] no such mailbox")
        wanted = set(uids)
        found = [m for m in self.mailboxes[source].messages if m.uid in wanted]
        size = sum(len(m.data) for m in found)
        if self.quota_bytes is not None and self.used() + size > self.quota_bytes:
            return AppendResult(False, code="OVERQUOTA", text="[OVERQUOTA] Quota exceeded")
        sources, new = [], []
        for m in found:
            box.messages.append(Stored(box.uidnext, m.data, m.flags, m.internaldate))
            sources.append(m.uid)
            new.append(box.uidnext)
            box.uidnext += 1
        self.copies.append((source, mailbox, len(found)))
        if self.copy_drop.get(n) == "after":
            raise ConnectionFailed(f"fake: connection lost after COPY {n} was stored")
        if "UIDPLUS" not in self.capabilities or not found:
            return AppendResult(True, text="OK Copy completed")
        return AppendResult(True, box.uidvalidity, new, text="[COPYUID] OK", sources=sources)


class FakeConfig:
    host, user, address = "fake.example", "pat", "fake.example:993"
    provider = None  # none named on the command line: detected


class FakeTarget:
    """One connection to a FakeServer."""

    def __init__(self, server: FakeServer):
        self.server = server
        self.config = FakeConfig()
        self.layout = server.layout
        self.selected: str | None = None
        self.pending: dict[bytes, AppendResult | Exception] = {}
        self._tags = itertools.count(1)
        if server.max_connections is not None and server.open >= server.max_connections:
            raise TooManyConnections("NO [ALERT] Too many simultaneous connections. (fake)")
        server.connections += 1
        server.open += 1
        server.most_open = max(server.most_open, server.open)
        self.closed = False

    # contract
    def has(self, capability: str) -> bool:
        return capability.upper() in self.server.capabilities

    provider = providers.GENERIC

    @property
    def limits(self) -> ServerLimits:
        return ServerLimits(None, self.has("BINARY"), None)

    @property
    def can_pipeline(self) -> bool:
        return self.has("LITERAL+")

    def batch_limit(self, wanted: int) -> int:
        return wanted if self.has("MULTIAPPEND") else 1

    def ensure_mailbox(self, name: str, special_use=None) -> str:
        self.server.create(name)
        return name

    def create_mailboxes(self, wanted) -> None:
        self.server.created_at_once.append([name for name, _ in wanted])
        for name, _ in wanted:
            if name not in self.server.refuse_create:  # refused: left to ensure_mailbox
                self.server.create(name)

    def existing_name(self, name: str) -> str | None:
        return name if name in self.server.mailboxes else None

    def existing_names(self, names: list[str]) -> dict[str, str | None]:
        return {name: self.existing_name(name) for name in names}

    def status(self, name: str) -> tuple[int, int, int]:
        box = self.server.mailboxes[name]
        return box.uidvalidity, box.uidnext, len(box.messages)

    def select(self, name: str, readonly: bool = False) -> SelectInfo:
        box = self.server.mailboxes.get(name)
        if box is None:
            raise MailboxError(f"no mailbox {name!r} (fake)")
        self.selected = name
        return SelectInfo(box.uidvalidity, box.uidnext, len(box.messages),
                          frozenset() if readonly else frozenset(
                              {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted",
                               "\\*"}))

    def examine(self, name: str) -> SelectInfo:
        return self.select(name, readonly=True)

    def statuses(self, names: list[str]) -> dict:
        return {name: self.status(name) for name in names if name in self.server.mailboxes}

    def copies_in(self, names: list[str]) -> dict:
        looked = {}  # small mailboxes only, as IMAPTarget (SMALL_MAILBOX)
        for name in names:
            if name in self.server.mailboxes and len(self.server.mailboxes[name].messages) \
                    <= 2000:
                looked[name] = (self.examine(name), self.fingerprints(self.uids()))
        return looked

    def look_into(self, names: list[str], sizes=None) -> dict:
        looked = {}
        for name in names:
            if name in self.server.mailboxes:
                looked[name] = (self.examine(name), self.uids())
        return looked

    def max_uid(self) -> int | None:
        messages = self.server.mailboxes[self.selected].messages
        return messages[-1].uid if messages else None

    def flags_of(self, uids) -> dict:
        return {m.uid: frozenset(m.flags) for m in self.server.mailboxes[self.selected].messages
                if m.uid in set(uids)}

    def add_flags(self, uids, flags) -> bool:
        if self.server.refuse_keyword_store and any(not f.startswith("\\") for f in flags):
            return False
        self.server.stores.append((self.selected, tuple(uids), tuple(flags)))
        for m in self.server.mailboxes[self.selected].messages:
            if m.uid in set(uids):
                m.flags = tuple(sorted(set(m.flags) | set(flags)))
        return True

    def stored_info(self, uids) -> dict:
        wanted = set(uids)
        return {m.uid: StoredInfo(frozenset(m.flags), len(m.data), m.internaldate)
                for m in self.server.mailboxes[self.selected].messages if m.uid in wanted}

    def copy(self, uids, mailbox: str) -> AppendResult:
        return self.server.copy(self.selected, uids, mailbox)

    def uids(self, uid_from: int = 1) -> list[int]:
        return [m.uid for m in self.server.mailboxes[self.selected].messages
                if m.uid >= uid_from]

    def fingerprints(self, uids) -> list[ServerCopy]:
        out = []
        wanted = set(uids)
        for m in self.server.mailboxes[self.selected].messages:
            if m.uid in wanted:
                fields = fingerprint.fingerprint_fields(headers.header_block(m.data))
                out.append(ServerCopy(
                    m.uid, fingerprint.header_key_from_fields(
                        fields, fingerprint.size_fallback(len(m.data))),
                    len(m.data), fingerprint.message_id_key(fields), frozenset(m.flags)))
        return out

    def contents(self, uids) -> dict:
        self.contents_read = getattr(self, "contents_read", 0) + len(uids)
        wanted = set(uids)
        return {m.uid: fingerprint.hashes_of(m.data)
                for m in self.server.mailboxes[self.selected].messages if m.uid in wanted}

    def search_header(self, field: str, value: str) -> list[int]:
        wanted = value.lower().encode()
        return [m.uid for m in self.server.mailboxes[self.selected].messages
                if any(wanted in v.lower() for v in headers.get_headers(
                    headers.header_block(m.data), {field.lower()}).get(field.lower(), ()))]

    def header_fields(self, uids) -> dict:
        return {uid: {} for uid in uids}

    def append_batch(self, mailbox: str, items: list[AppendItem]) -> AppendResult:
        if len(items) > self.batch_limit(len(items)):
            raise ValueError("more messages than one APPEND may carry here")
        return self.server.receive(mailbox, [_whole(item) for item in items])

    def append_start(self, mailbox: str, items: list[AppendItem]) -> bytes:
        assert self.can_pipeline
        tag = b"F%d" % next(self._tags)
        try:
            self.pending[tag] = self.server.receive(mailbox, items)
        except ConnectionFailed:
            raise
        return tag

    def append_finish(self, tag: bytes) -> AppendResult:
        return self.pending.pop(tag)

    def quota(self):
        return None if self.server.quota_bytes is None else (self.server.used(),
                                                             self.server.quota_bytes)

    def round_trip(self) -> float:
        return 0.0  # in memory

    def probe_send_rate(self) -> float | None:
        return None  # nothing to measure

    def close(self) -> None:
        self.selected = None
        if not self.closed:
            self.closed, self.server.open = True, self.server.open - 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _whole(item: AppendItem) -> AppendItem:
    """A message written from its file as it is sent (``Streamed``), read whole here."""
    from migrate.sources.stream import Streamed
    if isinstance(item.data, Streamed):
        return dataclasses.replace(item, data=item.data.read_all())
    return item
