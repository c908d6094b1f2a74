"""The quick check: a folder unchanged since a run read it is not read again.

The backup gate does not hash an unchanged file again either.

Its facts come from the state and equal a fresh read field for field; any
change is noticed (same size with a new mtime, same mtime with a new size,
same size and mtime with new bytes, a message file added to a maildir); a
file modified moments ago is never trusted; ``--full-check`` reads it all.
End to end on Dovecot: a no-op re-run reads nothing, a changed mbox is read
again and its new message uploaded, exactly once.
"""

from __future__ import annotations

import pytest

from migrate.plan import build_plan
from migrate.quickcheck import signature
from migrate.sources import open_store
from migrate.state import State
from tests.support.builders import message
from tests.support.quick_check_shared import age, changed, fields, plan_with, sources


def test_unchanged_folders_are_taken_from_the_state_exactly_as_read(tmp_path):
    mbox, md = sources(tmp_path)
    state = State(tmp_path / "state.sqlite")
    first, facts = plan_with(state, mbox, md)
    assert facts.reused == []
    again, facts = plan_with(state, mbox, md)
    assert sorted(facts.reused) == ["(root)", "Archive"]
    assert fields(again) == fields(first)
    assert {m.action for f in again.folders for m in f.messages} == {"upload", "skip"}
    full, facts = plan_with(state, mbox, md, full=True)
    assert facts.reused == [] and fields(full) == fields(first)


@pytest.mark.parametrize("how", ["same size, new mtime", "same mtime, new size",
                                 "same size and mtime, new bytes"])
def test_a_changed_mbox_is_read_again(tmp_path, how):
    again, facts = changed(tmp_path, how)
    assert facts.reused == ["(root)"]  # the maildir only
    fresh = build_plan([open_store(tmp_path / "src" / "Archive.mbox")])
    assert fields(again)[0] == fields(fresh)[0]


def test_a_message_added_to_a_maildir_is_noticed(tmp_path):
    mbox, md = sources(tmp_path)
    state = State(tmp_path / "state.sqlite")
    plan_with(state, mbox, md)
    new = md / "cur" / "4.d:2,"
    new.write_bytes(message("arrived later"))
    age(new, md / "cur")  # even with every time put back, the directory's ctime moved
    again, facts = plan_with(state, mbox, md)
    assert facts.reused == ["Archive"]
    assert len(again.folders[1].messages) == 4


def test_a_file_modified_moments_ago_is_not_trusted(tmp_path):
    mbox, md = sources(tmp_path)
    store = open_store(mbox)
    [folder] = store.folders()
    assert signature(folder) is not None
    mbox.write_bytes(mbox.read_bytes())
    assert signature(folder) is None  # its next change could share the timestamp
    state = State(tmp_path / "state.sqlite")
    plan_with(state, mbox)
    _, facts = plan_with(state, mbox)
    assert facts.reused == []


def test_a_killed_commands_plan_file_is_removed_by_the_next(tmp_path, monkeypatch):
    """plan and verify keep their work file in the temporary directory: a kill -9 leaves
    it there, and the next command started removes it (a live command's stays)."""
    import subprocess
    import sys
    import tempfile

    from migrate.spool import Spool
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f"mailmigrate-plan-{dead}-abc.sqlite"
    stale.write_bytes(b"")
    mine = Spool()
    assert not stale.exists() and mine.path.exists() and mine.path.parent == tmp_path
    other = Spool()
    assert mine.path.exists()  # a live command's file stays
    other.close()
    mine.close()


