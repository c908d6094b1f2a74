"""The one matching rule (migrate/reconcile.py): examples and properties."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.reconcile import (
    ALTERED,
    BY_UID,
    EXACT,
    MAX_UID,
    PASSES,
    ServerCopy,
    ServerMailbox,
    UidSet,
)


@dataclasses.dataclass(eq=False)
class Msg:
    header_key: str
    size: int
    message_id: str = ""
    body: str = ""  # what the message says: the same body, the same body hash

    @property
    def has_message_id(self) -> bool:
        return bool(self.message_id)

    @property
    def content_hash(self) -> str:
        return f"c:{self.header_key}:{self.size}:{self.message_id}:{self.body}"

    @property
    def body_hash(self) -> str:
        return f"b:{self.body}"


BYTES: dict[int, tuple[str, str]] = {}  # uid -> (content hash, body hash) of the copies made


def copy_of(m: Msg, uid: int, size: int | None = None, key: str | None = None) -> ServerCopy:
    """A copy of *m* on the server (its bytes changed where *size* or *key* differ)."""
    changed = size is not None or key is not None
    BYTES[uid] = ("changed" if changed else m.content_hash, m.body_hash)
    return ServerCopy(uid, key or m.header_key, m.size if size is None else size, m.message_id)


def mailbox(copies, read=None) -> ServerMailbox:
    """A ServerMailbox whose weak matches read the copies' bytes from BYTES; *read*
    collects the UIDs read."""
    def contents(uids):
        if read is not None:
            read.extend(uids)
        return {uid: BYTES[uid] for uid in uids if uid in BYTES}
    return ServerMailbox(copies, contents)


def test_exact_copy_is_found():
    m = Msg("k1", 100, "a@x")
    found = mailbox([copy_of(m, 7)]).match([m])
    assert found[id(m)].how == EXACT and found[id(m)].copy.uid == 7


def test_server_added_a_header_is_altered_when_there_is_a_message_id():
    with_id, without = Msg("k1", 100, "a@x"), Msg("k2", 100)
    server = mailbox([copy_of(with_id, 1, size=140), copy_of(without, 2, size=140)])
    found = server.match([with_id, without])
    assert found[id(with_id)].how == ALTERED
    assert id(without) not in found  # no Message-ID: a different size is a different message


def test_rewritten_in_place_is_found_by_message_id_and_size():
    """Cyrus: 8-bit header bytes become 'X' (same length, other header key)."""
    m = Msg("k-original", 100, "a@x")
    found = mailbox([copy_of(m, 3, key="k-rewritten")]).match([m])
    assert found[id(m)].how == ALTERED
    other_size = mailbox([copy_of(m, 3, key="k-rewritten", size=99)]).match([m])
    assert other_size == {}


def test_recorded_uid_wins_and_says_when_the_server_changed_the_message():
    m = Msg("k1", 100, "")
    server = ServerMailbox([ServerCopy(9, "other", 80, "")])
    found = server.match([m], lambda _: 9)
    assert found[id(m)].how == BY_UID and found[id(m)].altered and found[id(m)].copy.uid == 9
    same = mailbox([copy_of(m, 9)]).match([m], lambda _: 9)
    assert same[id(m)].how == BY_UID and not same[id(m)].altered


def test_a_loose_match_never_takes_the_copy_an_exact_match_needs():
    a = Msg("k", 100, "id@x")  # same header key, different sizes
    b = Msg("k", 120, "id@x")
    server = mailbox([copy_of(b, 1), copy_of(a, 2, size=101)])
    found = server.match([a, b])  # a first in order: must not take b's exact copy
    assert found[id(b)].copy.uid == 1 and found[id(b)].how == EXACT
    assert found[id(a)].copy.uid == 2 and found[id(a)].how == ALTERED


def test_leftovers_split_into_extra_copies_and_unrelated():
    m = Msg("k", 100, "id@x")
    server = mailbox([copy_of(m, 1), copy_of(m, 2), ServerCopy(3, "z", 5, "")])
    server.match([m])
    extra, unrelated = server.related([m])
    assert extra == [2] and unrelated.tolist() == [3]


def test_look_alikes_without_a_message_id_are_told_apart_by_their_bytes():
    """Issue 34.1: two cron reports, the same From, Subject, Date and size, other
    bodies; the server holds the second. The first is not "on the server"."""
    first, second = Msg("cron", 500, body="Disk usage: 45%"), Msg("cron", 500, body="46%")
    read = []
    server = mailbox([copy_of(second, 4)], read)
    server.expect([first, second])
    found = server.match([first, second])
    assert id(first) not in found and found[id(second)].copy.uid == 4
    assert read == [4]  # only the candidate is read, once


def test_a_message_id_shared_by_two_expected_messages_is_decided_on_content():
    a, b = Msg("k", 100, "reused@x", "a"), Msg("k", 100, "reused@x", "b")
    server = mailbox([copy_of(b, 1)])
    server.expect([a, b])
    found = server.match([a, b])
    assert id(a) not in found and found[id(b)].copy.uid == 1


def test_several_copies_for_one_key_go_to_the_one_with_the_same_bytes():
    a = Msg("k", 100, "id@x", "a")
    other = Msg("k", 100, "id@x", "other")  # not expected: someone else's look-alike
    server = mailbox([copy_of(other, 1), copy_of(a, 2)])
    server.expect([a])
    assert server.match([a])[id(a)].copy.uid == 2


def test_a_message_id_alone_is_confirmed_by_the_body():
    """Cyrus rewrote 8-bit header bytes (other key, same size): the body still says."""
    m = Msg("k-original", 100, "a@x", "hello")
    stranger = Msg("k-stranger", 100, "a@x", "not hello")  # reused Message-ID, same size
    server = mailbox([copy_of(stranger, 1), copy_of(m, 2, key="k-rewritten")])
    server.expect([m])
    assert server.match([m])[id(m)].copy.uid == 2


def test_without_a_way_to_read_bytes_a_weak_match_is_never_made():
    m = Msg("cron", 500, body="x")
    server = ServerMailbox([copy_of(m, 1)])
    assert server.match([m]) == {}


messages = st.builds(Msg, header_key=st.sampled_from("abcd"), size=st.integers(1, 4),
                     message_id=st.sampled_from(["", "", "m1", "m2"]),
                     body=st.sampled_from("xyz"))


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=8), st.lists(st.tuples(
    st.sampled_from("abcdz"), st.integers(1, 4), st.sampled_from(["", "m1", "m2", "m3"])),
    max_size=8))
def test_each_copy_vouches_once_and_the_rule_holds(expected, rows):
    copies = [ServerCopy(uid, k, size, mid) for uid, (k, size, mid) in enumerate(rows, 1)]
    server = mailbox(copies)
    server.expect(expected)
    found = server.match(expected)
    uids = [hit.copy.uid for hit in found.values()]
    for m, hit in claims(expected, found):
        c = hit.copy
        if hit.how == EXACT:
            assert (c.header_key, c.size) == (m.header_key, m.size) and not hit.altered
        else:
            assert hit.how == ALTERED and hit.altered and m.has_message_id
            assert c.header_key == m.header_key or (c.message_id == m.message_id
                                                    and c.size == m.size)
    left = set(server.uids())
    assert left == {c.uid for c in copies} - set(uids)


def claims(expected, found):
    """(message, its Match) of those *found*, once each; no copy claimed twice."""
    uids = [hit.copy.uid for hit in found.values()]
    assert len(uids) == len(set(uids))
    return [(m, found[id(m)]) for m in expected if id(m) in found]


def _distinct(expected):
    seen, out = set(), []
    for m in expected:  # the sources' own rule: the same bytes, or the same header key
        # and body, are one message (the later a DUPLICATE, never expected on the server)
        if m.content_hash not in seen and (m.header_key, m.body) not in seen:
            seen |= {m.content_hash, (m.header_key, m.body)}
            out.append(m)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=8), st.lists(st.integers(5, 9), max_size=5))
def test_copies_of_exactly_the_expected_messages_all_match_exactly(expected, noise):
    expected = _distinct(expected)
    copies = [copy_of(m, uid) for uid, m in enumerate(expected, 1)]
    copies += [ServerCopy(100 + i, f"noise{i}", size, "") for i, size in enumerate(noise)]
    server = mailbox(copies)
    server.expect(expected)
    found = server.match(expected)
    assert len(found) == len(expected)
    assert all(hit.how == EXACT for hit in found.values())
    assert server.related(expected)[0] == []


# header fields, sizes and Message-IDs drawn to collide; bodies tell them apart
# (a header key covers the Message-ID: the same key, the same Message-ID)
colliding = st.builds(lambda k, size, mid, body: Msg(k + mid, size, mid, body),
                      st.sampled_from("ab"), st.integers(1, 2), st.sampled_from(["", "m1"]),
                      st.sampled_from("xyzw"))


@settings(max_examples=500, deadline=None)
@given(st.lists(colliding, min_size=1, max_size=6), st.lists(colliding, max_size=4),
       st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["same", "header", "size"])),
                max_size=8),
       st.booleans())
def test_one_server_message_never_stands_for_another(expected, strangers, held, paged):
    """Issue 34, the property: whatever collides in the headers, a copy is claimed
    only by the message whose bytes it holds (the server may have changed its
    headers or size), or, where the key holds a Message-ID nobody else expected
    shares, by that look-alike; never one copy for two; paging changes nothing."""
    expected = _distinct(expected)
    origins = expected + strangers  # strangers: on the server, not in the sources
    copies, origin_of = [], {}
    for uid, (i, how) in enumerate(held, 1):
        m = origins[i % len(origins)]
        copies.append(copy_of(m, uid, **({"key": "rewritten"} if how == "header" and
                                          m.message_id else {"size": m.size + 10}
                                          if how == "size" else {})))
        origin_of[uid] = m
    server = mailbox(copies)
    server.expect(expected)
    if paged:
        found = {}
        for how in PASSES:  # as the callers page: a later pass sees only what is left
            for page in (expected[::2], expected[1::2]):
                found.update(server.match([m for m in page if id(m) not in found],
                                          passes=(how,)))
    else:
        found = server.match(expected)
    whole = mailbox(copies)
    whole.expect(expected)
    assert {k: v.copy.uid for k, v in found.items()} == {
        k: v.copy.uid for k, v in whole.match(expected).items()}  # pages change nothing
    for m, hit in claims(expected, found):
        origin = origin_of[hit.copy.uid]
        if origin is m or origin.body == m.body and origin.header_key == m.header_key:
            continue  # its own bytes (or its body under the same headers)
        # a look-alike with the same Message-ID, key and size that no expected message
        # shares: the headers are strong, as documented
        assert m.message_id and origin.message_id == m.message_id
        assert sum(e.message_id == m.message_id for e in expected) == 1


def test_records_hold_only_under_the_mailboxs_uidvalidity():
    from migrate.reconcile import trusted_records
    recorded = {"a": (7, 1), "b": (8, 2), "c": (None, None)}
    assert trusted_records(recorded, 7) == {"a": 1, "c": None}  # "b": a recreated mailbox's
    assert trusted_records(recorded, None) == {"a": 1, "b": 2, "c": None}  # no server seen


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
