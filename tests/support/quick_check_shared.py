"""What the tests of test_quick_check share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import dataclasses
import os
import time

from migrate.plan import build_plan
from migrate.quickcheck import Facts
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
