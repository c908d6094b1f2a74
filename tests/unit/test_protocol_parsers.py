"""Protocol answers and fingerprints on byte literals (no server)."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate import fingerprint
from migrate.target.base import uid_set
from migrate.target.responses import (
    QUOTA_STORAGE,
    decode_atom,
    parse_append_response,
    parse_uid_set,
)


@pytest.mark.parametrize("text, validity, uids", [
    (b"[APPENDUID 1700000000 7] Append completed.", 1700000000, [7]),
    (b"[APPENDUID 38505 3955:3957] APPEND completed", 38505, [3955, 3956, 3957]),
    (b"[APPENDUID 5 9,11:12,4] done", 5, [9, 11, 12, 4]),
    (b"[APPENDUID 5 12:10] done", 5, [10, 11, 12]),  # RFC 4315 allows a:b with a > b
])
def test_appenduid(text, validity, uids):
    r = parse_append_response("OK", [text])
    assert (r.ok, r.uidvalidity, r.uids) == (True, validity, uids)


def test_no_appenduid_without_uidplus():
    r = parse_append_response("OK", [b"Append completed."])
    assert r.ok and r.uids is None and r.uidvalidity is None


@pytest.mark.parametrize("typ, text, code, quota, throttled, delay", [
    ("NO", b"[OVERQUOTA] Quota exceeded (mailbox for user is full)", "OVERQUOTA", True, False,
     None),
    ("NO", b"[LIMIT] Message too large", "LIMIT", False, False, None),
    ("NO", b"[TRYCREATE] Mailbox doesn't exist: Foo", "TRYCREATE", False, False, None),
    ("NO", b"Request is throttled. Suggested Backoff Time: 1500 milliseconds", None, False,
     True, 1.5),
    ("BAD", b"Command Argument Error. 11", None, False, False, None),
])
def test_refusals_are_classified(typ, text, code, quota, throttled, delay):
    r = parse_append_response(typ, [text])
    assert not r.ok
    assert (r.code, r.over_quota, r.throttled, r.suggested_delay) == (code, quota, throttled,
                                                                      delay)


def test_uid_sets():
    assert parse_uid_set(b"1") == [1]
    assert parse_uid_set(b"1:3,7") == [1, 2, 3, 7]
    assert uid_set([7, 3, 1, 2, 2]) == b"1:3,7" and uid_set(array("I", [4, 5, 9])) == b"4:5,9"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 60), max_size=30), st.booleans())
def test_uid_set_names_each_uid_once_however_they_come(uids, ascending):
    """Ranges for COPY and for verify.json's "unexpected_more": in any order, with
    repeats; a server's ascending listing is read without a copy."""
    uids = sorted(uids) if ascending else uids
    text = uid_set(uids)
    assert (parse_uid_set(text) if uids else []) == sorted(set(uids))
    assert text.count(b",") < len(set(uids)) or not uids


def test_a_flag_of_bytes_no_atom_has_is_text_not_a_traceback():
    """FLAGS come back from a server as bytes; a hostile or broken one may send 8-bit
    bytes, which stopped the fingerprint fetch with UnicodeDecodeError (exit 70)."""
    assert decode_atom(b"\\Seen") == "\\Seen" and decode_atom(b"$Label1") == "$Label1"
    assert decode_atom(b"$\xff\xfe") == "$\ufffd\ufffd" and decode_atom(42) == "42"


def test_quota_storage_line():
    m = QUOTA_STORAGE.search(b'"User quota" (STORAGE 10 512 MESSAGE 1 1000)')
    assert m and (int(m.group(1)), int(m.group(2))) == (10, 512)
    assert QUOTA_STORAGE.search(b'"" (MESSAGE 1 1000)') is None


def test_header_key_survives_what_stores_and_servers_change():
    a = (b"Message-ID: <ABC@Example.org>\r\nDate: Mon, 03 Feb 2020 10:00:00 +0100\r\n"
         b"From: Ann <ann@example.org>\r\nSubject: Hello   world\r\n")
    b = (b"Subject: Hello world\r\nFrom: ann <ANN@example.org>\r\nX-Mozilla-Status: 0001\r\n"
         b"Date: Mon, 3 Feb 2020 09:00:00 +0000\r\nMessage-Id: < abc@example.org >\r\n")
    assert fingerprint.header_key_from_block(a) == fingerprint.header_key_from_block(b)
    c = a.replace(b"Hello", b"Goodbye")
    assert fingerprint.header_key_from_block(c) != fingerprint.header_key_from_block(a)


def test_message_without_fingerprint_fields_is_keyed_by_size():
    empty = b"X-Other: 1\r\n"
    assert fingerprint.header_key_from_block(empty, fingerprint.size_fallback(10)) != \
        fingerprint.header_key_from_block(empty, fingerprint.size_fallback(11))


def test_message_id_key():
    fields = fingerprint.fingerprint_fields(b"Message-ID: <X.Y@Host>\r\n")
    assert fingerprint.message_id_key(fields) == "x.y@host"
    assert fingerprint.message_id_key({}) == ""


def _stdlib_date(value: bytes):
    """What parse_rfc_date gave before its fast path: email.utils, then the same rules."""
    import datetime as dt
    import email.utils

    from migrate.headers import _plausible
    try:
        when = email.utils.parsedate_to_datetime(value.decode("latin-1").strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return _plausible(when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc))


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["", "Mon, ", "Sun,", "Fri,\t", "mon, "]),
       st.integers(0, 39), st.sampled_from(["Jan", "Feb", "Jun", "Dec", "jan", "Foo"]),
       st.integers(1965, 2105), st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
       st.sampled_from(["+", "-"]), st.integers(0, 30), st.integers(0, 99),
       st.sampled_from(["", " ", "  (CET)", " GMT"]))
def test_the_fast_date_path_agrees_with_the_stdlib(day_name, day, mon, year, hh, mm, ss, sign,
                                                   zh, zm, tail):
    from migrate.headers import parse_rfc_date
    value = f"{day_name}{day:02d} {mon} {year} {hh:02d}:{mm:02d}:{ss:02d} {sign}{zh:02d}{zm:02d}{tail}"
    ours, theirs = parse_rfc_date(value.encode()), _stdlib_date(value.encode())
    assert ours == theirs, value
    if ours is not None:
        assert ours.utcoffset() == theirs.utcoffset(), value


@settings(max_examples=3000, deadline=None)
@given(st.binary().map(lambda b: bytes(b"\r\n \tab:<>"[x % 9] for x in b)))
def test_fast_header_parsing_agrees_with_the_regular_expressions(data):
    """The per-message shortcuts give exactly what the regular expressions gave."""
    import re

    from migrate import headers
    m = re.compile(rb"\r?\n\r?\n").search(data)
    assert headers._blank_line(data) == ((m.start(), m.end()) if m else None)
    saved, headers._WINDOW = headers._WINDOW, 3  # windows that grow, as on long headers
    try:
        assert headers._blank_line(data) == ((m.start(), m.end()) if m else None)
    finally:
        headers._WINDOW = saved
    assert fingerprint._normalise_text(data) == (re.sub(rb"\s+", b" ", data.strip())
                                                 if data else b"")
    assert fingerprint.normalise_message_id(data) == (
        re.sub(rb"\s+", b"", (re.search(rb"<([^<>]*)>", data) or [None, data])[1]).lower()
        if data else b"")


@settings(max_examples=2000, deadline=None)
@given(st.binary().map(lambda b: bytes(b"\r\n ab:"[x % 6] for x in b)))
def test_body_hash_in_place_equals_the_copying_one(data):
    import hashlib

    from migrate import headers
    _, body = headers.split_headers(data)
    assert fingerprint.body_hash(data) == hashlib.sha256(body.rstrip(b"\r\n")).hexdigest()


_HEADER_PIECES = [b"Message-ID:", b"message-id :", b"Date:", b"DATE:", b"From:", b"from\t:",
                  b"Subject:", b"X-Other:", b" <a@b>", b"\tfolded", b"value", b"\r\n",
                  b"\r\n", b":", b" ", b"\xe9", b"Sub ject:", b"\r", b"\n", b"\x0b",
                  b"\r\n Subject:", b"\r\n\tDate:", b"\r\nfrom:"]


@settings(max_examples=4000)
@given(st.lists(st.sampled_from(_HEADER_PIECES), max_size=30).map(b"".join))
def test_the_crlf_fingerprint_fields_agree_with_the_general_ones(raw):
    """What message_row reads after to_crlf: every header line ends in CRLF."""
    from migrate import headers
    block = headers.to_crlf(raw)
    assert fingerprint.crlf_fingerprint_fields(block) == fingerprint.fingerprint_fields(block)


@settings(max_examples=4000)
@given(st.lists(st.sampled_from(_HEADER_PIECES), max_size=30).map(b"".join), st.booleans())
def test_a_servers_header_block_is_read_as_the_general_reader_reads_it(raw, crlf):
    """A fetched header block goes to the CRLF reader when its line ends are all CRLF
    (what servers send), else to the general one: the fields are the same either way."""
    from migrate import headers
    block = headers.to_crlf(raw) if crlf else raw
    assert fingerprint.answer_fingerprint_fields(block) == fingerprint.fingerprint_fields(block)


@settings(max_examples=3000)
@given(st.binary().map(lambda b: bytes(b"\r\n\r\na"[x % 5] for x in b)), st.integers(0, 20))
def test_line_ends_made_crlf_and_blank_lines_found_by_the_shortcuts(raw, begin):
    """to_crlf's already-CRLF shortcut, and the blank line looked for from any offset
    (the mbox splitter asks it of its window), agree with the regular expressions."""
    import re

    from migrate import headers
    assert headers.to_crlf(raw) == re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    m = re.compile(rb"\r?\n\r?\n").search(raw, begin)
    assert headers._blank_line(raw, begin) == ((m.start(), m.end()) if m else None)
    assert headers._blank_line(bytearray(raw), begin) == headers._blank_line(raw, begin)


@settings(max_examples=2000)
@given(st.binary().map(lambda b: bytes(b"\r\n ab:"[x % 6] for x in b)))
def test_the_crlf_blank_line_is_the_general_one_after_to_crlf(raw):
    from migrate import headers
    data = headers.to_crlf(raw)
    assert headers.crlf_blank_line(data) == headers._blank_line(data)


@given(st.binary().map(lambda b: bytes(b"\r\n ab:"[x % 6] for x in b)))
def test_body_hash_with_the_blank_line_given_equals_the_one_that_finds_it(data):
    from migrate import headers
    assert fingerprint.body_hash(data, headers._blank_line(data)) == fingerprint.body_hash(data)


@pytest.mark.parametrize("error, words", [
    ("APPEND command error: BAD [b'Command Argument Error. 12']", b"Command Argument Error. 12"),
    ("append failed: Command Argument Error. 11", b"Command Argument Error. 11"),
    ("[TOOBIG] Message too large", b"[TOOBIG] Message too large"),
    ("UID command error: BAD [b'Error in IMAP command UID COPY: Invalid uidset']",
     b"Error in IMAP command UID COPY: Invalid uidset"),
])
def test_the_servers_words_are_taken_out_of_imaplibs_errors(error, words):
    from migrate.target.responses import server_words
    assert server_words(Exception(error)) == words


@pytest.mark.parametrize("uids, text", [([1, 2, 3, 7], b"1:3,7"), ([5], b"5"),
                                        ([9, 8, 10, 2], b"2,8:10"), ([], b"")])
def test_uid_sets_are_written_as_ranges(uids, text):
    from migrate.target.base import uid_set
    assert uid_set(uids) == text


@pytest.mark.parametrize("typ, data, sources, uids", [
    ("OK", [b"[COPYUID 38505 304,319:320 3956:3958] Done"], [304, 319, 320], [3956, 3957, 3958]),
    ("OK", [b"Copy completed."], None, None),
    ("OK", [b"[COPYUID 1 1:3 7:8] mismatched"], None, None),
])
def test_copyuid_pairs_old_and_new_uids(typ, data, sources, uids):
    from migrate.target.responses import parse_copy_response
    result = parse_copy_response(typ, data)
    assert (result.ok, result.sources, result.uids) == (True, sources, uids)


@pytest.mark.parametrize("text", [
    b"[APPENDUID 7 1::2] done",  # not a uid-set: no UIDs, not a traceback
    b"[APPENDUID 7 ,] done",
    b"[APPENDUID 7 1:4294967295] done",  # more than any batch: not four billion integers
])
def test_a_malformed_or_huge_appenduid_gives_no_uids(text):
    r = parse_append_response("OK", [text])
    assert r.ok and r.uids is None


@pytest.mark.parametrize("text", [b"[COPYUID 7 1::2 3:4] done", b"[COPYUID 7 1:2 3:4294967295] x",
                                  b"[COPYUID 7 1:4000000000 1:4000000000] x"])
def test_a_malformed_or_huge_copyuid_is_resolved_like_a_missing_one(text):
    from migrate.target.responses import parse_copy_response
    r = parse_copy_response("OK", [text])
    assert r.ok and r.sources is None and r.uids is None


# -- the fingerprint FETCH answer, read without imapclient's general parser ------------

from imapclient.response_parser import parse_fetch_response  # noqa: E402

from migrate.target.fetch_response import fingerprint_items  # noqa: E402

BODY = b"BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
HEADER = b"Message-ID: <a@b>\r\nSubject: (hi) {3} \"q\"\r\n\r\n"


def imapclient_reading(data):
    try:
        return dict(parse_fetch_response(data, True, True))
    except Exception as e:  # noqa: BLE001 - any refusal is "not this shape" for the fast path
        return type(e)


@pytest.mark.parametrize("data", [
    # Dovecot's order
    [(b"1 (UID 7 RFC822.SIZE 120 FLAGS (\\Seen $Label1) " + BODY + b" {%d}" % len(HEADER),
      HEADER), b")"],
    # flags after the literal, and a second message
    [(b"1 (UID 7 RFC822.SIZE 120 " + BODY + b" {%d}" % len(HEADER), HEADER),
     b" FLAGS (\\Answered))", (b"2 (FLAGS () UID 9 " + BODY + b" {2}", b"\r\n"),
     b" RFC822.SIZE 0)"],
    # another session's flag change for the same message, with its UID: merged, later wins
    [(b"3 (UID 7 RFC822.SIZE 1 FLAGS () " + BODY + b" {2}", b"\r\n"), b")",
     b"3 (FLAGS (\\Seen) UID 7)"],
    # lower case names
    [(b"1 (uid 7 rfc822.size 120 flags (\\Seen) body[header.fields (message-id)] {2}",
      b"\r\n"), b")"],
])
def test_fingerprint_answers_read_as_imapclient_reads_them(data):
    fast = fingerprint_items(data)
    assert fast is not None and fast == imapclient_reading(data)


@pytest.mark.parametrize("data", [
    [None],  # no FETCH answer at all
    [(b"1 (UID 7 " + BODY + b" {2}", b"\r\n"), b")", b"4 (FLAGS (\\Seen))"],  # no UID: by seq
    [b"1 (UID 7 RFC822.SIZE 3 " + BODY + b" NIL)"],
    [b"1 (UID 7 RFC822.SIZE 3 " + BODY + b' "")'],
    [b"1 (UID 7 FLAGS (NIL))", ],  # imapclient: None
    [b"1 (UID 7 FLAGS (1234))"],  # imapclient: an int
    [b"1 (UID 7 FLAGS (\\Seen \xe9t\xe9))"],  # 8-bit: no atom has it
    [b"1 (UID 07 FLAGS ())"],  # leading zero
    [b"1 (UID 7  FLAGS ())"],  # two spaces
    [b"1 (UID 7 INTERNALDATE \"01-Jan-2001 00:00:00 +0000\")"],  # not asked for
    [(b"1 (UID 7 " + BODY + b"<0> {2}", b"\r\n"), b")"],  # a partial body
    [(b"1 (UID 7 " + BODY + b" {3}", b"\r\n"), b")"],  # a literal of the wrong length
    [b"1 (UID 7) trailing"],
    [(b"1 (UID 7 " + BODY + b" {2}", b"\r\n")],  # left open
])
def test_other_fetch_answers_go_to_imapclient(data):
    assert fingerprint_items(data) is None


_ATOM = st.text("\\$abcSX019-_.'*]%\"{}[()", min_size=1, max_size=6).map(str.encode)


@st.composite
def fetch_answers(draw, strict: bool):
    """imaplib's data for FETCH answers: the items of our request in any order, some
    left out, another session's flag changes; unless *strict*, shapes the fast path
    refuses too (NIL and quoted bodies, odd atoms and numbers, stray spaces)."""
    data = []
    for _ in range(draw(st.integers(0, 4))):
        seq = draw(st.integers(1, 50))
        number = st.integers(0, 5000).map(lambda n: b"%d" % n)
        if not strict:  # mostly well formed: the near misses are what could be misread
            number = st.one_of(number, number, number, st.sampled_from([b"007", b"0"]))
        items = [b"UID " + draw(number)] if strict or draw(st.integers(0, 5)) else []
        if draw(st.booleans()):
            items.append(b"RFC822.SIZE " + draw(number))
        if draw(st.booleans()):
            atoms = st.sampled_from([b"\\Seen", b"\\Answered", b"$Label1", b"Junk", b"\\*"])
            if not strict:
                atoms = st.one_of(atoms, atoms, atoms, atoms, _ATOM,
                                  st.sampled_from([b"NIL", b"42", b"\xe9", b"nil", b"042"]))
            items.append(b"FLAGS (" + b" ".join(draw(st.lists(atoms, max_size=3))) + b")")
        literal = None
        if draw(st.booleans()):
            key = BODY if strict or draw(st.booleans()) else b"body[header.fields (date)]"
            kind = "literal" if strict else draw(st.sampled_from(
                ["literal"] * 4 + ["nil", "quoted"]))
            if kind == "literal":
                literal = draw(st.binary(max_size=40) | st.just(HEADER))
                items.append(key + b" {%d}" % len(literal))
            else:
                items.append(key + (b" NIL" if kind == "nil" else b' "x"'))
        order = draw(st.permutations(range(len(items))))
        items = [items[i] for i in order]
        sep = b" " if strict else draw(st.sampled_from([b" "] * 8 + [b"  ", b"\t"]))
        text = b"%d (" % seq
        for item in items:
            if text.endswith(b"}"):  # the literal came before: the rest is a new chunk
                data.append((text, literal))
                text = sep + item
            else:
                text += (b"" if text.endswith(b"(") else sep) + item
        text += b")"
        if text.endswith(b"})"):  # the literal came last
            data += [(text[:-1], literal), b")"]
        else:
            data.append(text)
    return data


@settings(max_examples=1000, deadline=None)
@given(fetch_answers(strict=False))
def test_the_fast_reading_is_imapclients_or_none(data):
    """Whatever the server says, the fast path reads what imapclient reads, or leaves
    the answer to imapclient: it never reads a fingerprint differently."""
    fast = fingerprint_items(data)
    if fast is not None:
        assert fast == imapclient_reading(data)


@settings(max_examples=300, deadline=None)
@given(fetch_answers(strict=True))
def test_the_fast_reading_takes_every_answer_of_the_shape_it_knows(data):
    fast = fingerprint_items(data)
    assert fast is not None and fast == imapclient_reading(data)


def test_a_hostile_flag_is_refused_in_linear_time():
    """An optional space between flag atoms let the regular expression try every way
    to split a long atom before failing: 2.8 s for 24 bytes, days for 40. A server
    sending one must cost microseconds (each atom is now followed by one space)."""
    import time
    started = time.perf_counter()
    for n in (26, 4_000, 400_000):
        assert fingerprint_items([b"1 (UID 7 FLAGS (" + b"a" * n + b"%))"]) is None
        assert fingerprint_items([b"1 (UID 7 FLAGS (" + b"a b " * n + b"%))"]) is None
    assert time.perf_counter() - started < 2


# -- search_response: the answers of a pipelined look into many mailboxes -------------

def test_search_answers_read_into_arrays():
    from migrate.target.search_response import search_uids
    assert list(search_uids([b"1 2 3 10"], "I", 2**32 - 1)) == [1, 2, 3, 10]
    assert list(search_uids([b""], "I", 2**32 - 1)) == []  # "* SEARCH" alone: imaplib's b""
    assert list(search_uids([], "I", 2**32 - 1)) == []  # no SEARCH answer at all
    assert list(search_uids([b"9 3", b"3 4"], "I", 2**32 - 1)) == [3, 4, 9]  # sorted, once
    for odd in ([b"1 (MODSEQ 5)"], [b"1 x"], [b"0"], [b"4294967296"], [(b"{3}", b"1 2")],
                [b"1 -2"], [b"\xff"]):
        assert search_uids(odd, "I", 2**32 - 1) is None, odd


@settings(max_examples=200)
@given(st.lists(st.integers(1, 2**32 - 1), max_size=300), st.integers(1, 40))
def test_search_answers_in_pieces_read_as_one_split(uids, piece):
    """Read a piece at a time (no list of a million), the same as one split."""
    from migrate.target import search_response
    answer = b" ".join(b"%d" % u for u in uids)
    saved = search_response._PIECE
    search_response._PIECE = piece
    try:
        got = search_response.search_uids([answer], "I", 2**32 - 1)
    finally:
        search_response._PIECE = saved
    assert list(got) == sorted(set(uids))


def test_status_and_examine_answers():
    from migrate.target.search_response import examined, status_items
    assert status_items([b'"Sent Items" (MESSAGES 12)']) == {b"MESSAGES": 12}
    assert status_items([b'INBOX (UIDNEXT 5 MESSAGES 3 UIDVALIDITY 9)']) == {
        b"UIDNEXT": 5, b"MESSAGES": 3, b"UIDVALIDITY": 9}
    assert status_items([b'"a (b)" (MESSAGES 1)']) == {b"MESSAGES": 1}  # the last list
    for odd in ([], [b'a (MESSAGES x)'], [b'a (UIDNEXT)'], [(b"* STATUS {4}", b"name"),
                                                           b" (MESSAGES 3)"],
                [b'a (MESSAGES 1)', b'b (MESSAGES 2)'], [b'a MESSAGES 1']):
        assert status_items(odd) is None, odd
    assert examined({"EXISTS": [b"3"], "UIDVALIDITY": [b"7"], "UIDNEXT": [b"9"],
                     "FLAGS": [b"(\\Seen)"]}) == (7, 9, 3)
    assert examined({"EXISTS": [b"2", b"5"], "UIDVALIDITY": [b"7"]}) == (7, None, 5)  # last
    assert examined({"EXISTS": [b"3"]}) is None
    assert examined({"EXISTS": [b"3"], "UIDVALIDITY": [b"-1"]}) is None


@pytest.mark.parametrize("namespace, personal", [
    ([b'(("" "/")) NIL NIL'], ("", "/")),
    ([b'(("INBOX." ".")) NIL NIL'], ("INBOX.", ".")),
    ([b"NIL NIL NIL"], None),
    ([b'(("" "/" "odd")) NIL NIL'], ("asked", "alone")),  # a shape not expected
    ([b'(("" '], ("asked", "alone")),  # cut short
])
def test_the_layout_read_at_login_or_asked_alone_when_odd(namespace, personal):
    """NAMESPACE and LIST sent together (``_namespace_and_list``): the personal namespace
    as imapclient reads it; any answer of another shape is asked again alone."""
    import imapclient

    from migrate.target.imap import IMAPTarget

    class Client:
        folder_encode = True

        def namespace(self):
            return imapclient.imapclient.Namespace((("asked", "alone"),), None, None)

    target = object.__new__(IMAPTarget)
    target.client, target.capabilities = Client(), frozenset({"NAMESPACE"})
    target._list = lambda pattern: ["listed alone"]  # LIST asked alone

    class Wire:
        def pipelined(self, commands):
            return [(True, [{"NAMESPACE": namespace},
                            {"LIST": [b'(\\HasNoChildren) "/" INBOX']}])]

    target.wire = Wire()
    found, folders = target._namespace_and_list()
    assert found == personal
    assert folders == (["listed alone"] if personal == ("asked", "alone")
                       else [((b"\\HasNoChildren",), b"/", "INBOX")])
