"""Which server copy is which expected message: the one matching rule.

Plan (survey), the upload engine (before sending, and when it resolves
batches a crash left in flight) and verify all ask the same question: of the
messages a mailbox should hold, which are there? They all answer it here, by
the rule of docs/fingerprint.md, in this order:

1. **by UID**: our state recorded the UID the server gave the message
   (APPENDUID, under the same UIDVALIDITY) and that UID is still there. Found
   whatever the server did to its bytes.
2. **exact**: same header key and same size.
3. **altered**: same header key and the message has a Message-ID (the server
   added or changed other headers), or the same Message-ID and the same size
   (the server rewrote bytes in place, as Cyrus does with 8-bit header bytes).

Each server copy vouches for one expected message. A pass takes every
message it can before the next, looser pass starts, so a loose match never
takes a copy an exact match needed. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

BY_UID, EXACT, ALTERED = "uid", "exact", "altered"
PASSES = (BY_UID, EXACT, ALTERED)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerCopy:
    """One message on the server, as far as matching needs it."""

    uid: int
    header_key: str
    size: int
    message_id: str = ""  # normalised (fingerprint.normalise_message_id), "" when none
    flags: frozenset = frozenset()  # as the server keeps them (verify compares them)


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    copy: ServerCopy
    how: str  # the pass that found it: BY_UID, EXACT or ALTERED
    altered: bool = False  # the server's copy differs from what was sent


def trusted_records(recorded: dict, uidvalidity: int | None) -> dict[str, int | None]:
    """content hash -> UID of the state's records that still hold for the mailbox.

    *recorded* maps content hashes to the (UIDVALIDITY, UID) our runs recorded.
    A record holds under the mailbox's current *uidvalidity*; one from a
    mailbox deleted and recreated since (another UIDVALIDITY) does not. A
    record without UIDVALIDITY (older runs) holds, and so does every record
    when no server was looked at (*uidvalidity* None).
    """
    return {h: uid for h, (valid, uid) in recorded.items()
            if uidvalidity is None or valid is None or valid == uidvalidity}


class ServerMailbox:
    """The copies one server mailbox holds; each can be claimed once."""

    def __init__(self, copies: Iterable[ServerCopy] = ()):
        self.copies: dict[int, ServerCopy] = {c.uid: c for c in copies}
        self._by_key: dict[str, list[ServerCopy]] = {}
        self._by_id: dict[str, list[ServerCopy]] = {}
        for c in sorted(self.copies.values(), key=lambda c: c.uid):
            self._by_key.setdefault(c.header_key, []).append(c)
            if c.message_id:
                self._by_id.setdefault(c.message_id, []).append(c)

    def __len__(self) -> int:
        return len(self.copies)

    def _take(self, copy: ServerCopy) -> ServerCopy:
        del self.copies[copy.uid]
        self._by_key[copy.header_key].remove(copy)
        if copy.message_id:
            self._by_id[copy.message_id].remove(copy)
        return copy

    def claim_uid(self, uid: int | None) -> ServerCopy | None:
        if uid is not None and uid in self.copies:
            return self._take(self.copies[uid])
        return None

    def claim_exact(self, m) -> ServerCopy | None:
        for c in self._by_key.get(m.header_key, ()):
            if c.size == m.size:
                return self._take(c)
        return None

    def claim_altered(self, m) -> ServerCopy | None:
        same_key = self._by_key.get(m.header_key)
        if same_key and m.has_message_id:
            return self._take(same_key[0])
        for c in self._by_id.get(getattr(m, "message_id", ""), ()) if m.has_message_id else ():
            if c.size == m.size:
                return self._take(c)
        return None

    def match(self, expected: Iterable, recorded_uid=lambda m: None,
              passes: tuple = PASSES) -> dict[int, Match]:
        """Match *expected* messages (anything with header_key, size, has_message_id,
        message_id): ``id(message) -> Match`` for those found. *recorded_uid(m)* is
        the UID our state trusts for *m* (same UIDVALIDITY), or None. A caller
        matching page by page runs one pass over every page before the next
        (*passes*), which keeps the rule's order."""
        expected = list(expected)
        found: dict[int, Match] = {}
        claims = {BY_UID: lambda m: self.claim_uid(recorded_uid(m)),
                  EXACT: self.claim_exact, ALTERED: self.claim_altered}
        for how in passes:
            claim = claims[how]
            for m in expected:
                if id(m) not in found and (copy := claim(m)) is not None:
                    changed = how == ALTERED or (copy.header_key, copy.size) != (
                        m.header_key, m.size)
                    found[id(m)] = Match(copy, how, changed)
        return found

    def related(self, expected: Iterable) -> tuple[list[int], list[int]]:
        """Unclaimed copies split into (extra copies of expected messages, unrelated).

        Memory grows with the unclaimed copies only: *expected* is streamed."""
        keys = {c.header_key for c in self.copies.values()}
        ids = {c.message_id for c in self.copies.values() if c.message_id}
        seen_keys, seen_ids = set(), set()
        for m in expected:
            if m.header_key in keys:
                seen_keys.add(m.header_key)
            if m.has_message_id and m.message_id in ids:
                seen_ids.add(m.message_id)
        extra = sorted(c.uid for c in self.copies.values()
                       if c.header_key in seen_keys or (c.message_id and c.message_id in seen_ids))
        taken = set(extra)
        return extra, sorted(uid for uid in self.copies if uid not in taken)


class UidSet:
    """A set of UIDs as a bitmap: a million UIDs in 125 KB, not 60 MB of ints."""

    def __init__(self, uids: Iterable[int] = ()):
        self.bits = bytearray()
        self.count = 0
        for uid in uids:
            self.add(uid)

    def add(self, uid: int) -> None:
        byte, bit = divmod(uid, 8)
        if byte >= len(self.bits):
            self.bits.extend(bytes(byte + 1 - len(self.bits) + len(self.bits) // 2))
        if not self.bits[byte] >> bit & 1:
            self.bits[byte] |= 1 << bit
            self.count += 1

    def __contains__(self, uid) -> bool:
        if uid is None:
            return False
        byte, bit = divmod(uid, 8)
        return byte < len(self.bits) and bool(self.bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self.count
