"""A big mbox file planned on every core reads exactly as when read from the start.

Parts start at guessed boundaries; a guess inside a message (a From_ line
with a date after a blank line, inside a Content-Length body) must be found
out and the rest read in order. Thresholds are lowered so small files split.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from migrate import plan as planning
from migrate.sources import open_store
from migrate.sources.mbox import likely_boundaries
from tests.builders import crlf, message, write_mbox

FAKE_SEPARATOR = "\n\nFrom fake@example.org Mon Jan  1 00:00:00 2001\nSubject: inside a body\n\n"


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(planning, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(planning, "PART_BYTES", 700)


def both_ways(path):
    [folder] = open_store(path).folders()
    parallel = planning.planned_rows_in_parts(folder)
    assert parallel is not None
    sequential = [planning.message_row(m, body=False) for m in folder.messages()]
    return list(parallel), sequential


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
    saved = planning.PARALLEL_MIN_BYTES, planning.PART_BYTES
    planning.PARALLEL_MIN_BYTES, planning.PART_BYTES = 0, 500
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
        planning.PARALLEL_MIN_BYTES, planning.PART_BYTES = saved
