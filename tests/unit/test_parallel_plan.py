"""A big mbox file planned on every core reads exactly as when read from the start.

Parts start at guessed boundaries; a guess inside a message (a From_ line
with a date after a blank line, inside a Content-Length body) must be found
out and the rest read in order. Thresholds are lowered so small files split.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate import plan as planning
from migrate import plan_rows
from migrate.sources import open_store
from migrate.sources.mbox import likely_boundaries
from tests.support.builders import crlf, message, write_mbox
from tests.support.parallel_plan_shared import (
    FAKE_SEPARATOR,
    _tree,
    both_ways,
    plan_fields,
    small_parts,  # noqa: F401 - a fixture
)


def test_parts_join_where_the_whole_file_splits(tmp_path, small_parts):
    path = tmp_path / "big.mbox"
    write_mbox(path, [message(f"m{i}", body=f"line {i}\n" * (i % 7 + 1)) for i in range(60)])
    parallel, sequential = both_ways(path)
    assert parallel == sequential and len(sequential) == 60


def test_a_guessed_boundary_inside_a_message_is_found_out(tmp_path, small_parts):
    """mboxcl: Content-Length bodies hold unquoted From_ lines that look like separators."""
    msgs = []
    for i in range(40):
        body = (f"text {i}\n" * 30 + FAKE_SEPARATOR + "more\n") if i % 3 == 0 else f"plain {i}\n"
        head = message(f"cl {i}", body="").decode()
        msgs.append(f"{head.rstrip()}\nContent-Length: {len(body.encode())}\n\n{body}".encode())
    data = b"".join(b"From s@example.org Mon Jan  1 00:00:00 2001\n" + m + b"\n" for m in msgs)
    path = tmp_path / "cl.mbox"
    path.write_bytes(data)
    parallel, sequential = both_ways(path)
    assert len(sequential) == 40
    starts = {int(row[0].decode()[1:].partition(":")[0]) for row in sequential}  # "@offset:.."
    guesses = likely_boundaries(path, list(range(700, len(data), 700)))
    assert set(guesses) - starts, "the file must tempt a wrong guess"
    assert parallel == sequential


def test_mboxcl2_files_are_not_unquoted_in_any_part(tmp_path, small_parts):
    first = message("first", extra="X-IMAPbase: 1 2")
    rest = [message(f"m{i}", body=">From quoted stays quoted\n" * 20) for i in range(30)]
    data = b"".join(b"From s@example.org Mon Jan  1 00:00:00 2001\n" + m + b"\n"
                    for m in [first] + rest)
    path = tmp_path / "cl2.mbox"
    path.write_bytes(data)
    parallel, sequential = both_ways(path)
    assert parallel == sequential
    assert [row[2] for row in parallel[1:]] == [len(crlf(m)) for m in rest]  # nothing unquoted


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.booleans()), min_size=1,
                max_size=25))
def test_any_mix_plans_the_same_in_parts(tmp_path_factory, shapes):
    saved = plan_rows.PARALLEL_MIN_BYTES, plan_rows.PART_BYTES
    plan_rows.PARALLEL_MIN_BYTES, plan_rows.PART_BYTES = 0, 500
    try:
        parts = []
        for i, (lines, fake, quoted) in enumerate(shapes):
            body = "x\n" * lines + (FAKE_SEPARATOR if fake else "") + (
                ">From quoted\n" if quoted else "")
            parts.append(b"From s@example.org Mon Jan  1 00:00:00 2001\n"
                         + message(f"h{i}", body=body) + b"\n")
        path = tmp_path_factory.mktemp("mix") / "mix.mbox"
        path.write_bytes(b"".join(parts))
        parallel, sequential = both_ways(path)
        assert parallel == sequential
    finally:
        plan_rows.PARALLEL_MIN_BYTES, plan_rows.PART_BYTES = saved


# -- a store of many folders: mbox files read ahead by the workers ---------------------


def test_many_folders_read_ahead_plan_as_one_by_one(tmp_path, monkeypatch):
    root = _tree(tmp_path / "Local Folders")
    monkeypatch.setattr(plan_rows, "cores_here", lambda: 1)  # no workers: one by one, here
    alone = plan_fields(planning.build_plan([open_store(root)]))
    monkeypatch.setattr(plan_rows, "cores_here", lambda: 2)
    monkeypatch.setattr(plan_rows, "READ_AHEAD_MIN_BYTES", 0)
    submitted = []
    real = planning.Workers.submit
    monkeypatch.setattr(planning.Workers, "submit",
                        lambda self, *call: submitted.append(call[1]) or real(self, *call))
    assert plan_fields(planning.build_plan([open_store(root)])) == alone
    assert len(submitted) == 7  # every mbox folder (the empty file is no folder), by a worker


def test_a_folder_gone_before_a_worker_reads_it_stops_as_it_did(tmp_path, monkeypatch):
    """The worker's SourceError comes back in the folder's turn, with the same words."""
    from migrate.errors import SourceError
    root = _tree(tmp_path / "Local Folders")
    store = open_store(root)
    listed = store.folders()
    monkeypatch.setattr(type(store), "folders", lambda self: listed)
    (root / "F3").unlink()
    said = []
    for cores, least in ((1, 1 << 20), (2, 0)):
        monkeypatch.setattr(plan_rows, "cores_here", lambda cores=cores: cores)
        monkeypatch.setattr(plan_rows, "READ_AHEAD_MIN_BYTES", least)
        with pytest.raises(SourceError) as e:
            planning.build_plan([store])
        said.append(str(e.value))
    assert said[0] == said[1] and "F3" in said[0]


def test_facts_of_folders_read_ahead_are_kept_and_reused(tmp_path, monkeypatch):
    import os
    import time

    from migrate.quickcheck import Facts
    from migrate.state import State
    root = _tree(tmp_path / "Local Folders")
    for path in root.rglob("*"):
        os.utime(path, (time.time() - 3600,) * 2)
    monkeypatch.setattr(plan_rows, "cores_here", lambda: 2)
    monkeypatch.setattr(plan_rows, "READ_AHEAD_MIN_BYTES", 0)
    state = State(tmp_path / "s.sqlite")
    try:
        first = plan_fields(planning.build_plan([open_store(root)], facts=Facts(state)))
        facts = Facts(state)
        again = plan_fields(planning.build_plan([open_store(root)], facts=facts))
        assert again == first and len(facts.reused) == 7
    finally:
        state.close()


def test_a_folders_questions_read_only_its_own_rows(tmp_path):
    """Counts, sums and pages of one folder do not read the others' messages: a profile of
    hundreds of folders asked each a dozen questions, each a pass over every message."""
    write_mbox(tmp_path / "Small", [message(f"s{i}") for i in range(3)])
    write_mbox(tmp_path / "Big", [message(f"b{i}") for i in range(6000)])
    plan = planning.build_plan([open_store(tmp_path)])
    small = next(f for f in plan.folders if f.folder.name == ("Small",))
    big = next(f for f in plan.folders if f.folder.name == ("Big",))  # spooled in two chunks
    assert big.counts() == {"upload": 6000} and sum(map(len, big.messages.light())) == 6000
    db = small.messages.spool.db
    steps = []
    db.set_progress_handler(lambda: steps.append(1), 1)
    try:
        assert small.counts() == {"upload": 3} and small.messages.bytes_for() > 0
        small.messages.by_reason(), small.messages.years(), small.messages.date_range()
        assert len(list(small.messages)) == 3
    finally:
        db.set_progress_handler(None, 1)
    assert len(steps) < 6000  # a pass over the big folder's rows alone is many more


def test_one_header_key_in_many_mailboxes_is_not_compared_across_them(tmp_path, monkeypatch):
    """The same message filed in each of many folders (or a generator's same headers):
    no two are twins (each folder is its own mailbox), and finding that must not compare
    every copy with every other (500 such folders took 22 s; SQLite steps bound it)."""
    from migrate import spool as spooling
    for n in range(40):
        write_mbox(tmp_path / f"F{n}", [message(f"m{i}", msgid=f"<{i}@example.org>",
                                                body=f"folder {n}\n") for i in range(40)])
    steps = []
    real = spooling.Spool.mark_duplicates

    def counted(self, *args):
        self.db.set_progress_handler(lambda: steps.append(1), 1)
        try:
            return real(self, *args)
        finally:
            self.db.set_progress_handler(None, 1)

    monkeypatch.setattr(spooling.Spool, "mark_duplicates", counted)
    plan = planning.build_plan([open_store(tmp_path)])
    assert all(f.counts() == {"upload": 40} for f in plan.folders) and len(plan.folders) == 40
    assert len(steps) < 200 * 1600  # linear in the 1,600 messages; across them: 40 times more


# -- a worker that ends without answering; Ctrl-C with workers running ------------------


def test_a_worker_killed_mid_plan_is_a_sentence_to_run_again(tmp_path, monkeypatch):
    """The system's OOM killer or a kill of the child: BrokenProcessPool was a traceback
    (exit 70); it is WorkerLost (130), naming the file, saying what to do."""
    import concurrent.futures
    import os

    from migrate import workers
    root = _tree(tmp_path / "Local Folders")
    monkeypatch.setattr(plan_rows, "cores_here", lambda: 2)
    monkeypatch.setattr(plan_rows, "READ_AHEAD_MIN_BYTES", 0)
    real = workers.Workers.submit

    def dying(self, fn, path, *rest):
        """A worker that dies at once (os._exit in it: the pool's processes are not
        forks of this one, so a function patched here would not reach them); the pool
        is broken before the next folder is handed out (CI once named that one)."""
        future = real(self, os._exit, 9)
        self.waiting[future] = path  # the job that died was this folder's
        concurrent.futures.wait([future], timeout=30)
        return future

    monkeypatch.setattr(workers.Workers, "submit", dying)
    with pytest.raises(planning.WorkerLost) as e:
        planning.build_plan([open_store(root)])
    assert e.value.exit_code == 130 and "F1" in str(e.value)
    assert "run the same command again" in str(e.value)


def test_a_forked_worker_lets_go_of_the_runs_lock(tmp_path):
    """The lock is free once the run lets go, though a worker it forked lives on."""
    import os
    import time

    from migrate.errors import UsageError
    from migrate.lock import RunLock
    path = tmp_path / "s.lock"
    held = RunLock(path).acquire()
    for lets_go, free in ((True, True), (False, False)):
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the worker
            if lets_go:
                from migrate.workers import worker_started
                worker_started()  # as a plan worker starts
            os.write(write, b"1")
            time.sleep(3)
            os._exit(0)
        os.read(read, 1)
        held.release()
        try:
            RunLock(path).acquire().release()
            got = True
        except UsageError:
            got = False
        finally:
            os.kill(child, 9)
            os.waitpid(child, 0)
            os.close(read), os.close(write)
        assert got == free
        held = RunLock(path).acquire()
    held.release()
