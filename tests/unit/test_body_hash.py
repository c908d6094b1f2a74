"""The body hash, left out of the first reading of an mbox and computed where it decides.

Two uploads of one target mailbox with the same header key are one message only
if their bodies agree (docs/fingerprint.md). Hashing every body costs a second
SHA-256 pass over nearly every byte of the plan, and nearly every header key is
unique, so a folder that can read a message again by its key (mbox) leaves the
body hash out and ``plan.hash_left_out_bodies`` reads back only the messages
that share a header key with another upload of their scope. The decisions must
be exactly those of hashing every body, whatever the mix of twins, folders,
stores, scopes and facts reused from the state.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate import plan as planning
from migrate import plan_rows
from migrate.quickcheck import Facts
from migrate.sources import open_store
from migrate.sources.mbox import MboxAt
from migrate.spool import NO_BODY_HASH
from migrate.state import State
from tests.support.builders import message, write_mbox

HOUR_AGO = time.time() - 3600

SUBJECTS = ("Report", "Lunch", "Re: Report")
BODIES = ("The body.\n", "The body.\n\n\n", "Another body.\n", "the body.\n")


def decisions(plan) -> list:
    return [[(m.location.rsplit("/", 1)[-1], m.action, m.reason and m.reason.rsplit("/", 1)[-1])
             for m in f.messages] for f in plan.folders]


def every_body_hashed(monkeypatch):
    real = plan_rows.message_row
    monkeypatch.setattr(plan_rows, "message_row", lambda m, body=True: real(m, True))


def build(root: Path, across: bool):
    return planning.build_plan([open_store(root)], across_folders=across)


def write_tree(root: Path, folders: list[list[tuple[int, int, int]]]) -> None:
    """mbox folders (and one maildir, the last list) of messages (subject, body, id)."""
    *mboxes, loose = folders
    for n, msgs in enumerate(mboxes):
        write_mbox(root / f"f{n}.mbox", [
            message(SUBJECTS[s], body=BODIES[b], msgid=f"<{i}@example.org>" if i else None,
                    date="Mon, 01 Jan 2001 00:00:00 +0000") for s, b, i in msgs])
    md = root / "loose"
    for part in ("cur", "new", "tmp"):
        (md / part).mkdir(parents=True)
    for n, (s, b, i) in enumerate(loose):
        (md / "cur" / f"{n}.x:2,S").write_bytes(
            message(SUBJECTS[s], body=BODIES[b], msgid=f"<{i}@example.org>" if i else None,
                    date="Mon, 01 Jan 2001 00:00:00 +0000"))


twins = st.lists(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 2)),
                          max_size=8), min_size=2, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folders=twins, across=st.booleans())
def test_the_same_decisions_as_hashing_every_body(monkeypatch, folders, across):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, folders)
        left_out = decisions(build(root, across))
        with monkeypatch.context() as m:
            every_body_hashed(m)
            assert decisions(build(root, across)) == left_out


def test_only_messages_with_a_twin_are_read_again(tmp_path, monkeypatch):
    same = message("Report", msgid="<r@example.org>")
    other_body = message("Report", msgid="<r@example.org>", body="Changed.\n")
    write_mbox(tmp_path / "a.mbox", [message(f"m{i}") for i in range(20)] + [same, other_body,
                                                                            same])
    reads = []
    real = MboxAt.read
    monkeypatch.setattr(MboxAt, "read", lambda self, key: reads.append(key) or real(self, key))
    plan = planning.build_plan([open_store(tmp_path / "a.mbox")])
    [f] = plan.folders
    assert len(reads) == 3  # the three sharing a header key; the twenty others never
    assert f.counts() == {"upload": 22, "duplicate": 1}
    rows = f.messages.spool.query("SELECT body_hash FROM m ORDER BY id")
    assert sum(r[0] == NO_BODY_HASH for r in rows) == 20


def test_a_message_changed_before_it_is_read_again_is_nobodys_duplicate(tmp_path, monkeypatch):
    """Its bytes are no longer the planned ones: no hash of them may make it a duplicate
    (the upload then finds the change and says so)."""
    same = message("Report", msgid="<r@example.org>")
    write_mbox(tmp_path / "a.mbox", [same, same])
    real = MboxAt.read
    monkeypatch.setattr(MboxAt, "read",
                        lambda self, key: (real(self, key) or b"").replace(b"Hello", b"HELLO"))
    [f] = planning.build_plan([open_store(tmp_path / "a.mbox")]).folders
    assert f.counts() == {"upload": 2}
    assert [r[0].startswith("unread ") for r in
            f.messages.spool.query("SELECT body_hash FROM m ORDER BY id")] == [True, True]


def test_facts_from_the_state_without_body_hashes_still_find_duplicates(tmp_path):
    """A folder taken from the state (not read again) has its body hashes left out too:
    its twins are read again, against a folder read now."""
    src = tmp_path / "src"
    src.mkdir()
    same = message("Report", msgid="<r@example.org>")
    write_mbox(src / "Inbox.mbox", [same, message("kept")])
    os.utime(src / "Inbox.mbox", (HOUR_AGO, HOUR_AGO))
    state = State(tmp_path / "s.sqlite")
    try:
        facts = Facts(state)
        planning.build_plan([open_store(src)], facts=facts)
        write_mbox(src / "Later.mbox", [same, message("Report", msgid="<r@example.org>",
                                                      body="Other.\n")])
        facts = Facts(state)
        plan = planning.build_plan([open_store(src)], across_folders=True, facts=facts)
        assert facts.reused  # Inbox came from the state, with its body hashes left out
        assert [f.counts() for f in plan.folders] == [{"upload": 2},
                                                      {"duplicate": 1, "upload": 1}]
    finally:
        state.close()


def test_a_file_that_cannot_be_read_again_makes_no_duplicates_and_stops_nothing(
        tmp_path, monkeypatch):
    """Gone or unreadable between the reading and the second look (here after its first
    twin): its twins stay uploads (the upload then skips that folder with the reason);
    the plan goes on, and the other folder's twins are compared."""
    from migrate.errors import SourceError
    same = message("Report", msgid="<r@example.org>")
    (tmp_path / "src").mkdir()
    write_mbox(tmp_path / "src" / "a.mbox", [same, same, same, message("x")])
    write_mbox(tmp_path / "src" / "b.mbox", [same, same])
    real, calls = MboxAt.read, []

    def read(self, key):
        if self.path.name == "a.mbox" and calls:
            raise SourceError(f"cannot read mbox file {self.path}: gone")
        calls.append(key)
        return real(self, key)

    monkeypatch.setattr(MboxAt, "read", read)
    plan = planning.build_plan([open_store(tmp_path / "src")])
    assert {f.folder.name[-1]: dict(f.counts()) for f in plan.folders} == {
        "a": {"upload": 4}, "b": {"upload": 1, "duplicate": 1}}
