"""The mbox reader on written fixtures, properties (hypothesis), and the real corpus."""

from __future__ import annotations

import datetime as dt
import io
import mailbox
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.errors import SourceError
from migrate.sources import open_store
from migrate.sources.mbox import MboxAt, MboxStore, has_quoted_from, split_mbox
from tests.support.builders import message, snapshot, write_mbox

UTC = dt.timezone.utc


def read(path):
    """The messages as the plan reads them; each read again by its key as the upload
    does (``MboxAt``) must give the same bytes."""
    msgs = list(MboxStore(path).folders()[0].messages())
    with MboxAt(path) as at:
        assert [at(m.key) for m in msgs] == [m.data for m in msgs]
    return msgs


def test_read_by_key_places_only_what_it_can(tmp_path):
    path = write_mbox(tmp_path / "m", [message("a"), message("b")])
    [first, second] = read(path)
    with MboxAt(path) as at:
        assert at("@0") is None  # a key from before keys said where (never placed)
        assert at("@0:10+99999999999999") is None  # a state edited by hand: no huge read
        assert at(second.key) == second.data
        with open(path, "ab") as f:
            f.truncate(path.stat().st_size - 10)
        assert at(second.key) is None  # the file is shorter now
        assert at(first.key) == first.data


def test_mboxrd_unquotes_exactly_one_level(tmp_path):
    body = "a\nFrom x\n>From y\n>>From z\n>Fromage\n"
    original = message("q", body=body)
    write_mbox(tmp_path / "m", [original])
    [msg] = read(tmp_path / "m")
    assert msg.data == original


def test_crlf_file_and_missing_final_newline(tmp_path):
    one = message("one", eol="\r\n")
    two = message("two", eol="\r\n", body="no newline at end")
    raw = b"From a Mon Jan  1 00:00:00 2001\r\n" + one + b"\r\n" + \
        b"From b Mon Jan  1 00:00:01 2001\r\n" + two
    (tmp_path / "m").write_bytes(raw)
    msgs = read(tmp_path / "m")
    assert [m.data for m in msgs] == [one, two]


def test_body_from_lines_do_not_split(tmp_path):
    raw = (b"From a Mon Jan  1 00:00:00 2001\n" + message("x", body="hi\n\nFrom time to time\n"
           "\nFrom Russia with love\nYear: 1963\n") + b"\n")
    (tmp_path / "m").write_bytes(raw)
    assert len(read(tmp_path / "m")) == 1


def test_content_length_protects_unquoted_from_lines(tmp_path):
    body = b"line\n\nFrom someone Mon Jan  1 00:00:00 2001\nSubject: fake\n\nstill body\n"
    head = b"From: a@b\nSubject: cl\nX-IMAPbase: 1 2\nContent-Length: %d\n\n" % len(body)
    raw = b"From a Mon Jan  1 00:00:00 2001\n" + head + body + b"\n" + \
        b"From b Mon Jan  1 00:00:01 2001\n" + message("next") + b"\n"
    (tmp_path / "m").write_bytes(raw)
    msgs = read(tmp_path / "m")
    assert len(msgs) == 2
    assert msgs[0].data == head + body


def test_dates_and_flags(tmp_path):
    write_mbox(tmp_path / "m", [message("a", extra="Status: RO\nX-Status: AF"),
                                message("b", extra="X-Mozilla-Status: 0008"),
                                message("c", extra="X-Mozilla-Status: 1001\nX-Mozilla-Keys: $label1 work")],
               dates=[dt.datetime(2001, 2, 3, 4, 5, 6)] * 3)
    a, b, c = read(tmp_path / "m")
    assert a.flags == {"\\Seen", "\\Answered", "\\Flagged"}
    assert a.internaldate == dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert b.skip_reason == "deleted"
    assert c.flags == {"\\Seen"} and c.keywords == {"$Forwarded", "$label1", "work"}


def test_date_fallbacks(tmp_path):
    received = "Received: from x by y; Tue, 05 Mar 2019 10:00:00 +0200"
    raw = (b"From - \n" + message("r", extra=received) + b"\n" +
           b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n" + message("d") + b"\n")
    (tmp_path / "m").write_bytes(raw)
    r, d = read(tmp_path / "m")
    assert r.internaldate == dt.datetime(2019, 3, 5, 8, 0, tzinfo=UTC)
    assert d.internaldate == dt.datetime(2020, 2, 3, 9, 0, tzinfo=UTC)  # from Date:


def test_not_an_mbox_is_one_clear_error(tmp_path):
    (tmp_path / "x.mbox").write_bytes(b"lorem ipsum\n")
    with pytest.raises(SourceError, match=str(tmp_path / "x.mbox")):
        open_store(tmp_path / "x.mbox")


def test_reading_changes_nothing(tmp_path):
    src = tmp_path / "store"
    src.mkdir()
    write_mbox(src / "Inbox", [message(f"m{i}") for i in range(5)])
    os.chmod(src / "Inbox", stat.S_IRUSR)
    os.chmod(src, stat.S_IRUSR | stat.S_IXUSR)
    before = snapshot(src)
    try:
        store = open_store(src)
        assert sum(1 for f in store.folders() for _ in f.messages()) == 5
        assert snapshot(src) == before
    finally:
        os.chmod(src, stat.S_IRWXU)


def test_streaming_memory_is_bounded(tmp_path):
    """A file much larger than a chunk is read with a window, not loaded whole."""
    big = [message(f"m{i}", body="x" * 5000 + "\n") for i in range(600)]  # ~3 MB
    write_mbox(tmp_path / "m", big)
    windows = []
    import migrate.sources.mbox as mod
    real_discard = mod._Buffer.discard

    def spy(self, before):
        windows.append(len(self.buf))
        real_discard(self, before)
    mod._Buffer.discard = spy
    try:
        assert len(read(tmp_path / "m")) == 600
    finally:
        mod._Buffer.discard = real_discard
    assert max(windows) <= 2 * mod.CHUNK + 10000


# -- properties ------------------------------------------------------------------

header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
body_line = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\r\n"),
            max_size=60),
    st.builds(lambda n, rest: ">" * n + "From " + rest, st.integers(0, 3), header_text),
    st.just(""),
)
messages_strategy = st.lists(
    st.builds(lambda subj, lines: message(subj.replace("\n", " "), body="\n".join(lines) + "\n"),
              header_text, st.lists(body_line, max_size=12)),
    min_size=0, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages_strategy, st.sampled_from([b"\n", b"\r\n"]))
def test_mboxrd_round_trip(tmp_path, msgs, eol):
    """Quoted as mboxrd writers do, read back by the reader itself: the original bytes."""
    msgs = [m.replace(b"\n", eol) for m in msgs]
    buf = io.BytesIO()
    for i, m in enumerate(msgs):
        quoted = b"".join((b">" + line if line.lstrip(b">").startswith(b"From ") else line)
                          for line in m.splitlines(keepends=True))
        buf.write(b"From sender Mon Jan  1 00:00:%02d 2001" % i + eol + quoted + eol)
    (tmp_path / "rd").write_bytes(buf.getvalue())
    assert [m.data for m in read(tmp_path / "rd")] == msgs


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b">", b"From ", b"From", b">From ", b"\n", b"x", b" "]),
                max_size=200), st.integers(0, 4))
def test_quoted_from_shortcut_is_the_plain_search(parts, tries):
    data = b"".join(parts)
    assert has_quoted_from(data, tries) == (b">From " in data)


def test_mboxcl2_body_from_lines_are_not_unquoted(tmp_path):
    """Dovecot/UW files (X-IMAPbase) do no quoting: '>From ' in a body is the body's own."""
    body = b"quoted in the original:\n>From here on\n>>From there\n"
    first = (b"From: a@b\nSubject: one\nX-IMAPbase: 1 2\nContent-Length: %d\n\n" % len(body)
             + body)
    second = b"From: a@b\nSubject: two\nContent-Length: 12\n\n>From again\n"
    raw = (b"From MAILER-DAEMON Mon Jan  1 00:00:00 2001\n" + first + b"\n"
           + b"From MAILER-DAEMON Mon Jan  1 00:00:01 2001\n" + second + b"\n")
    (tmp_path / "cl2").write_bytes(raw)
    assert [m.data for m in read(tmp_path / "cl2")] == [first, second]


@settings(max_examples=150, deadline=None)
@given(messages_strategy)
def test_mboxcl2_round_trip(msgs):
    """Content-Length delimited, no quoting at all: body From lines must not split."""
    buf = io.BytesIO()
    for i, m in enumerate(msgs):
        head, _, body = m.partition(b"\n\n")
        head += b"\nContent-Length: %d" % len(body)
        buf.write(b"From sender Mon Jan  1 00:00:%02d 2001\n" % i + head + b"\n\n" + body + b"\n")
    buf.seek(0)
    out = [data for _, _, data in split_mbox(buf)]
    expect = []
    for m in msgs:
        head, _, body = m.partition(b"\n\n")
        expect.append(head + b"\nContent-Length: %d" % len(body) + b"\n\n" + body)
    assert out == expect


# Pieces of mbox files, likely and unlikely: separators with and without dates,
# body lines that look like separators, Content-Length (true and false), blank
# lines, CR and CRLF, quoting. Joined in any order they make every edge case.
MBOX_PIECES = [b"From s@example.org Mon Jan  1 00:00:00 2001\n", b"From -\n", b"From \n",
               b"From time to time\n", b"From s Mon Jan  1 00:00:00 2001\r\n", b">From q\n",
               b"Subject: x\n", b"Content-Length: 5\n", b"content-length:0\n", b"X: y\r\n",
               b"\n", b"\r\n", b"\r", b"body\n", b"From:", b" folded\n", b"abcde",
               b"\xef\xbb\xbf"]


def spans(data: bytes, chunk: int, quick: bool):
    import migrate.sources.mbox as mod
    saved = mod.CHUNK, mod.QUICK
    mod.CHUNK, mod.QUICK = chunk, quick
    try:
        return list(mod.mbox_spans(io.BytesIO(data)))
    except SourceError as e:
        return str(e)
    finally:
        mod.CHUNK, mod.QUICK = saved


def counted(body: list[bytes]) -> bytes:
    """A message whose Content-Length is true: the general path takes it over scanning."""
    text = b"".join(body)
    return b"Subject: c\nContent-Length: %d\n\n" % len(text) + text


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(MBOX_PIECES),
                          st.lists(st.sampled_from(MBOX_PIECES), max_size=8).map(counted)),
                max_size=40),
       st.sampled_from([7, 64, 1 << 20]))
def test_quick_split_is_the_general_split(pieces, chunk):
    """The splitter's quick path (the common message, on the window in place) gives
    exactly what the general path gives, also where a window ends mid-message."""
    data = b"From s@example.org Mon Jan  1 00:00:00 2001\n" + b"".join(pieces)
    assert spans(data, chunk, True) == spans(data, 1 << 20, False)


# -- the real-world corpus -------------------------------------------------------

# Real message counts (PROVENANCE.md), where Python's mailbox.mbox gets some wrong.
CORPUS_COUNTS = {
    "comm-central/mbox_mboxrd": 2, "comm-central/mbox_modern": 2,
    "comm-central/mbox_unquoted": 2, "comm-central/bugmail-1": 1,
    "mimekit/content-length.mbox.txt": 29, "mimekit/issue1189.mbox.txt": 4,
    "mimekit/unmunged.mbox.txt": 2, "mimekit/simple.mbox.txt": 3,
    "cpython/mailbox_01.mbox": 1, "aleph/plan.mbox": 1,
    "neomutt-test-files/apple.mbox": 0, "neomutt-test-files/banana.mbox": 1,
}


@pytest.mark.parametrize("name,count", sorted(CORPUS_COUNTS.items()))
def test_corpus_mbox_counts(corpus, name, count):
    path = corpus / "mbox" / name
    before = path.read_bytes()
    msgs = read(path)
    assert len(msgs) == count
    assert path.read_bytes() == before
    for m in msgs:
        assert m.data.strip()
        assert not m.data.startswith(b"From ")


@pytest.mark.parametrize("name", ["neomutt-test-files/cherry.mbox", "neomutt-test-files/fig.mbox"])
def test_corpus_not_mbox(corpus, name):
    with pytest.raises(SourceError):
        read(corpus / "mbox" / name)


def test_corpus_agrees_with_stdlib_where_stdlib_is_right(corpus):
    """Independent count: mailbox.mbox on files it splits correctly (read from a copy)."""
    for name in ["mimekit/issue1189.mbox.txt", "comm-central/mbox_mboxrd", "aleph/plan.mbox"]:
        data = (corpus / "mbox" / name).read_bytes()
        copy = io.BytesIO(data)
        ours = list(split_mbox(copy))
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "copy")
            with open(p, "wb") as f:
                f.write(data)
            box = mailbox.mbox(p, create=False)
            theirs = [box.get_bytes(k) for k in box.iterkeys()]
            box.close()
        assert len(ours) == len(theirs)
