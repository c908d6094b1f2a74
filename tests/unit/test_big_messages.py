"""Issue 34.10: hostile and huge sources. A tree nested deeper than Python's
recursion limit, a header of one line of many megabytes, and a big message: each
is read, backed up and uploaded with a message held about twice in memory at
most (it was 4x for a big body and 8.5x for a long header line), and never a
traceback."""

from __future__ import annotations

import tracemalloc

import pytest


@pytest.mark.parametrize("long_header", [False, True])
def test_reading_a_big_message_holds_it_about_twice(tmp_path, long_header):
    from migrate.plan_rows import message_row
    from migrate.sources import open_store
    size = 48 * MB
    [folder] = open_store(big_mbox(tmp_path / "big.mbox", size, long_header)).folders()
    tracemalloc.start()
    try:
        rows = [message_row(m, body=True) for m in folder.messages()]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows) == 1 and rows[0][2] > size
    assert peak < 2.2 * size, f"{peak / size:.2f} x the message"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.support.big_messages_shared import LINES, MB, PIECES, big_mbox  # noqa: E402


@settings(max_examples=1500, deadline=None)
@given(LINES, st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=14, max_size=14))
def test_headers_read_in_place_are_the_headers_read_from_a_copy(lines, ends):
    """A big header section is read in place (no copy of it, nor of a header not
    wanted); every section reads the same either way."""
    from migrate import fingerprint, headers
    block = b"".join(line + end for line, end in zip(lines, ends))
    crlf_only = block.count(b"\r") == block.count(b"\n") == block.count(b"\r\n")
    want = {"from", "subject", "x-long"}
    copied = (list(headers.iter_headers(block)), list(headers.iter_headers(block, want)),
              fingerprint.crlf_fingerprint_fields(block) if crlf_only else None)
    small, headers.SMALL_BLOCK = headers.SMALL_BLOCK, -1
    try:
        in_place = (list(headers.iter_headers(block)), list(headers.iter_headers(block, want)),
                    fingerprint.crlf_fingerprint_fields(block) if crlf_only else None)
    finally:
        headers.SMALL_BLOCK = small
    assert in_place == copied


# -- a big message goes from its file to the socket (sources/stream.py) ------------------


@settings(max_examples=400, deadline=None)
@given(PIECES, st.booleans(), st.integers(3, 40))
def test_streamed_pieces_are_the_message_as_sent(parts, unquote, piece):
    """Read in pieces (any size, lines cut anywhere but at a CR), unquoted and made CRLF
    piece by piece: exactly what the whole message read at once is."""
    import tempfile
    from pathlib import Path

    from migrate import fingerprint, headers
    from migrate.sources import stream
    from migrate.sources.mbox import mboxrd_unquoted
    raw = b"".join(parts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.mbox"
        path.write_bytes(b"junk" + raw + b"tail")
        want = headers.to_crlf(mboxrd_unquoted(raw) if unquote else raw)
        saved = stream.PIECE, stream.LONG_PIECE
        # a line is cut only past its first LONG_PIECE bytes (8 MB): its ">From " whole
        stream.PIECE, stream.LONG_PIECE = piece, max(piece * 2, 16)
        try:
            s = stream.Streamed(path, 4, len(raw), unquote, len(want),
                                fingerprint.content_hash(want), "m.mbox at byte 0")
            assert b"".join(s.pieces()) == want
            assert s.read_all() == want
        finally:
            stream.PIECE, stream.LONG_PIECE = saved


