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

import dataclasses
import os
import time

import pytest

from migrate.plan import build_plan
from migrate.quickcheck import Facts, signature
from migrate.sources import open_store
from migrate.state import State
from tests.support.builders import message, write_mbox

HOUR_AGO = time.time() - 3600


def age(*paths, when=HOUR_AGO):
    """Make files look written long ago (a fresh file is never trusted: racy)."""
    for p in paths:
        os.utime(p, (when, when))


def sources(tmp_path):
    mbox = tmp_path / "src" / "Archive.mbox"
    mbox.parent.mkdir()
    write_mbox(mbox, [message(f"m{i}", extra="X-Status: F" if i == 1 else "") for i in range(5)])
    md = tmp_path / "src" / "md"
    for part in ("cur", "new", "tmp"):
        (md / part).mkdir(parents=True)
    (md / "cur" / "1.a:2,S").write_bytes(message("seen"))
    (md / "cur" / "2.b:2,RT").write_bytes(message("trashed"))
    (md / "new" / "3.c").write_bytes(message("new one"))
    age(mbox, md, md / "cur", md / "new", *(md / "cur").iterdir(), *(md / "new").iterdir())
    return mbox, md


def plan_with(state, *paths, full=False):
    facts = Facts(state, full=full)
    plan = build_plan([open_store(p) for p in paths], facts=facts)
    return plan, facts


def fields(plan):
    """Every planned message's facts and decisions (not where it is kept)."""
    return [[{f.name: getattr(m, f.name) for f in dataclasses.fields(m)
              if f.name not in ("ref", "home")} for m in f.messages] for f in plan.folders]


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


def changed(tmp_path, how):
    mbox, md = sources(tmp_path)
    state = State(tmp_path / "state.sqlite")
    plan_with(state, mbox, md)
    st = mbox.stat()
    data = mbox.read_bytes()
    if how == "same size, new mtime":
        mbox.write_bytes(data.replace(b"Subject: m3", b"Subject: M3"))
        age(mbox, when=HOUR_AGO - 60)
    elif how == "same mtime, new size":
        with open(mbox, "ab") as f:
            f.write(b"From x@example.org Mon Jan  1 00:00:00 2001\n" + message("added"))
        os.utime(mbox, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif how == "same size and mtime, new bytes":
        mbox.write_bytes(data.replace(b"Subject: m3", b"Subject: M3"))
        os.utime(mbox, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert mbox.stat().st_mtime_ns == st.st_mtime_ns or how == "same size, new mtime"
    again, facts = plan_with(state, mbox, md)
    return again, facts


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


