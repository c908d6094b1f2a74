"""The one matching rule (migrate/reconcile.py): examples and properties."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.reconcile import (ALTERED, BY_UID, EXACT, MAX_UID, PASSES, Match, ServerCopy,
                               ServerMailbox, UidSet)


@dataclasses.dataclass(eq=False)
class Msg:
    header_key: str
    size: int
    message_id: str = ""
    content_hash: str = ""

    @property
    def has_message_id(self) -> bool:
        return bool(self.message_id)


def copy_of(m: Msg, uid: int, size: int | None = None, key: str | None = None) -> ServerCopy:
    return ServerCopy(uid, key or m.header_key, m.size if size is None else size, m.message_id)


def test_exact_copy_is_found():
    m = Msg("k1", 100, "a@x")
    found = ServerMailbox([copy_of(m, 7)]).match([m])
    assert found[id(m)].how == EXACT and found[id(m)].copy.uid == 7


def test_server_added_a_header_is_altered_when_there_is_a_message_id():
    with_id, without = Msg("k1", 100, "a@x"), Msg("k2", 100)
    server = ServerMailbox([copy_of(with_id, 1, size=140), copy_of(without, 2, size=140)])
    found = server.match([with_id, without])
    assert found[id(with_id)].how == ALTERED
    assert id(without) not in found  # no Message-ID: a different size is a different message


def test_rewritten_in_place_is_found_by_message_id_and_size():
    """Cyrus: 8-bit header bytes become 'X' (same length, other header key)."""
    m = Msg("k-original", 100, "a@x")
    found = ServerMailbox([copy_of(m, 3, key="k-rewritten")]).match([m])
    assert found[id(m)].how == ALTERED
    other_size = ServerMailbox([copy_of(m, 3, key="k-rewritten", size=99)]).match([m])
    assert other_size == {}


def test_recorded_uid_wins_and_says_when_the_server_changed_the_message():
    m = Msg("k1", 100, "")
    server = ServerMailbox([ServerCopy(9, "other", 80, "")])
    found = server.match([m], lambda _: 9)
    assert found[id(m)].how == BY_UID and found[id(m)].altered and found[id(m)].copy.uid == 9
    same = ServerMailbox([copy_of(m, 9)]).match([m], lambda _: 9)
    assert same[id(m)].how == BY_UID and not same[id(m)].altered


def test_a_loose_match_never_takes_the_copy_an_exact_match_needs():
    a = Msg("k", 100, "id@x")  # same header key, different sizes
    b = Msg("k", 120, "id@x")
    server = ServerMailbox([copy_of(b, 1), copy_of(a, 2, size=101)])
    found = server.match([a, b])  # a first in order: must not take b's exact copy
    assert found[id(b)].copy.uid == 1 and found[id(b)].how == EXACT
    assert found[id(a)].copy.uid == 2 and found[id(a)].how == ALTERED


def test_leftovers_split_into_extra_copies_and_unrelated():
    m = Msg("k", 100, "id@x")
    server = ServerMailbox([copy_of(m, 1), copy_of(m, 2), ServerCopy(3, "z", 5, "")])
    server.match([m])
    extra, unrelated = server.related([m])
    assert extra == [2] and unrelated.tolist() == [3]


messages = st.builds(Msg, header_key=st.sampled_from("abcd"), size=st.integers(1, 4),
                     message_id=st.sampled_from(["", "", "m1", "m2"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=8), st.lists(st.tuples(
    st.sampled_from("abcdz"), st.integers(1, 4), st.sampled_from(["", "m1", "m2", "m3"])),
    max_size=8))
def test_each_copy_vouches_once_and_the_rule_holds(expected, rows):
    copies = [ServerCopy(uid, k, size, mid) for uid, (k, size, mid) in enumerate(rows, 1)]
    server = ServerMailbox(copies)
    found = server.match(expected)
    uids = [hit.copy.uid for hit in found.values()]
    assert len(uids) == len(set(uids))
    for m in expected:
        hit = found.get(id(m))
        if hit is None:
            continue
        c = hit.copy
        if hit.how == EXACT:
            assert (c.header_key, c.size) == (m.header_key, m.size) and not hit.altered
        else:
            assert hit.how == ALTERED and hit.altered and m.has_message_id
            assert c.header_key == m.header_key or (c.message_id == m.message_id
                                                    and c.size == m.size)
    left = set(server.uids())
    assert left == {c.uid for c in copies} - set(uids)


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=8), st.lists(st.integers(5, 9), max_size=5))
def test_copies_of_exactly_the_expected_messages_all_match_exactly(expected, noise):
    copies = [copy_of(m, uid) for uid, m in enumerate(expected, 1)]
    copies += [ServerCopy(100 + i, f"noise{i}", size, "") for i, size in enumerate(noise)]
    server = ServerMailbox(copies)
    found = server.match(expected)
    assert len(found) == len(expected)
    assert all(hit.how == EXACT for hit in found.values())
    assert server.related(expected)[0] == []


def test_records_hold_only_under_the_mailboxs_uidvalidity():
    from migrate.reconcile import trusted_records
    recorded = {"a": (7, 1), "b": (8, 2), "c": (None, None)}
    assert trusted_records(recorded, 7) == {"a": 1, "c": None}  # "b": a recreated mailbox's
    assert trusted_records(recorded, None) == {"a": 1, "b": 2, "c": None}  # no server seen


class DictMailbox:
    """The rule as it was kept in Python dicts before the copies moved to SQLite:
    the oracle the database version must agree with, claim for claim."""

    def __init__(self, copies):
        self.copies = {c.uid: c for c in copies}
        self.by_key, self.by_id = {}, {}
        for c in sorted(self.copies.values(), key=lambda c: c.uid):
            self.by_key.setdefault(c.header_key, []).append(c)
            if c.message_id:
                self.by_id.setdefault(c.message_id, []).append(c)

    def take(self, c):
        del self.copies[c.uid]
        self.by_key[c.header_key].remove(c)
        if c.message_id:
            self.by_id[c.message_id].remove(c)
        return c

    def match(self, expected, recorded_uid, passes=PASSES):
        def by_uid(m):
            uid = recorded_uid(m)
            return self.take(self.copies[uid]) if uid in self.copies else None

        def exact(m):
            return next((self.take(c) for c in self.by_key.get(m.header_key, ())
                         if c.size == m.size), None)

        def altered(m):
            if not m.has_message_id:
                return None
            if self.by_key.get(m.header_key):
                return self.take(self.by_key[m.header_key][0])
            return next((self.take(c) for c in self.by_id.get(m.message_id, ())
                         if c.size == m.size), None)
        found = {}
        for how, claim in zip(PASSES, (by_uid, exact, altered)):
            if how not in passes:
                continue
            for m in expected:
                if id(m) not in found and (c := claim(m)) is not None:
                    found[id(m)] = Match(c, how, how == ALTERED or (c.header_key, c.size) != (
                        m.header_key, m.size))
        return found

    def related(self, expected):
        keys = {m.header_key for m in expected}
        ids = {m.message_id for m in expected if m.has_message_id}
        extra = sorted(u for u, c in self.copies.items()
                       if c.header_key in keys or (c.message_id and c.message_id in ids))
        return extra, sorted(set(self.copies) - set(extra))


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=10), st.lists(st.tuples(
    st.sampled_from("abcdz"), st.integers(1, 4), st.sampled_from(["", "m1", "m2", "m3"]),
    st.frozensets(st.sampled_from(["\\Seen", "\\Flagged", "$Label1"]))), max_size=10),
    st.lists(st.integers(0, 12), max_size=10), st.booleans())
def test_the_database_mailbox_claims_what_the_dict_rule_claimed(expected, rows, recorded, paged):
    """Same copies, same messages, same recorded UIDs: the same claim for every
    message (which copy, which pass, altered or not), and the same leftovers."""
    copies = [ServerCopy(uid, k, size, mid, flags)
              for uid, (k, size, mid, flags) in enumerate(rows, 1)]
    uid_of = {id(m): uid for m, uid in zip(expected, recorded)}
    oracle, server = DictMailbox(copies), ServerMailbox()
    server.add(copies[:3])  # filled page by page, as fetch_copies does
    server.add(copies[3:])
    if paged:  # a caller matching page by page: one pass over every page at a time
        half = (expected[:len(expected) // 2], expected[len(expected) // 2:])
        got, want = {}, {}
        for how in PASSES:
            for page in half:
                got.update(server.match(page, lambda m: uid_of.get(id(m)), passes=(how,)))
                want.update(oracle.match(page, lambda m: uid_of.get(id(m)), passes=(how,)))
    else:
        got = server.match(expected, lambda m: uid_of.get(id(m)))
        want = oracle.match(expected, lambda m: uid_of.get(id(m)))
    assert got == want
    assert len(server) == len(oracle.copies)
    extra, unrelated = server.related(expected)
    assert (extra, unrelated.tolist()) == oracle.related(expected)


def test_uid_set_claims_each_listed_uid_once():
    uids = UidSet([9, 3, 3, 7])  # a server may list them in any order
    assert list(uids.listed) == [3, 7, 9] and len(uids) == 3 and 7 in uids and 4 not in uids
    assert None not in uids and not uids.claim(None)
    assert uids.claim(7) and not uids.claim(7) and not uids.claim(8)
    assert uids.claimed == 1 and list(uids.unclaimed()) == [3, 9]


def test_uid_set_costs_four_bytes_a_uid_whatever_the_uids():
    """UIDs near the top of the 32-bit range (a server that numbers from there):
    a bitmap from 0 would be 500 MB; the array is 400 KB for 100,000."""
    import tracemalloc
    tracemalloc.start()
    uids = UidSet(range(MAX_UID - 100_000, MAX_UID))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000 and uids.claim(MAX_UID - 1) and MAX_UID - 1 in uids


def test_a_full_temporary_directory_is_a_sentence_not_a_traceback():
    """The server's copies go to a temporary SQLite file; SQLite's own "database or disk
    is full" (here: its page limit, the same SQLITE_FULL) says what to free."""
    import pytest

    from migrate.errors import ExitCode
    from migrate.spool import SpoolUnavailable
    server = ServerMailbox()
    server._db.execute("PRAGMA max_page_count = 8")
    with pytest.raises(SpoolUnavailable, match="disk is full.*free space in the temporary") as e:
        server.add(ServerCopy(uid, f"{uid:064x}", 100, f"{uid}@x") for uid in range(1, 5000))
    assert e.value.exit_code == ExitCode.USAGE


def test_the_server_copies_file_is_private_and_gone_from_the_directory():
    """Non-negotiable 8: SQLite makes the spill file 0600 and unlinks it at once, so no
    other user reads it and nothing is left behind, even after kill -9."""
    import os
    import stat

    import pytest
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to see the process's open files")
    def open_files():
        out = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                where, st = os.readlink(f"/proc/self/fd/{fd}"), os.fstat(int(fd))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[st.st_dev, st.st_ino] = (where, stat.S_IMODE(st.st_mode))
        return out
    before = open_files()
    server = ServerMailbox()
    server._db.execute("PRAGMA cache_size = 10")  # spill to the file at once
    server.add(ServerCopy(uid, f"{uid:064x}", 100, f"{uid}@x") for uid in range(1, 3000))
    spilled = [v for k, v in open_files().items() if k not in before]  # opened for it
    assert spilled and all(w.endswith("(deleted)") and mode == 0o600 for w, mode in spilled)
