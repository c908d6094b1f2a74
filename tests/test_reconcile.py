"""The one matching rule (migrate/reconcile.py): examples and properties."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.reconcile import ALTERED, BY_UID, EXACT, ServerCopy, ServerMailbox


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
    assert server.related([m]) == ([2], [3])


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
    left = set(server.copies)
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
