"""LIST answers read by migrate/target/list_response.py: byte literals, then every
name a real server lists (issue 34.8: a name the tool created broke every later
command of the account)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrate.target.list_response import ListParseError, parse_list, parse_list_line


@pytest.mark.parametrize("line, want", [
    (rb'(\HasNoChildren) "/" INBOX', ((rb"\HasNoChildren",), b"/", b"INBOX")),
    (rb'(\HasNoChildren) "/" Evil_[31mRed', ((rb"\HasNoChildren",), b"/", b"Evil_[31mRed")),
    (rb'() "." "a \"b\" \\c"', ((), b".", rb'a "b" \c')),
    (rb'(\Noselect \HasChildren) NIL "x]y"', ((rb"\Noselect", rb"\HasChildren"), None,
                                               b"x]y")),
    (rb'(\Sent) "\\" Sent', ((rb"\Sent",), b"\\", b"Sent")),
    (rb'() "/" a(b)%*{c}', ((), b"/", b"a(b)%*{c}")),
    (b'() "/" "caf\xc3\xa9"', ((), b"/", "café".encode())),
    (rb'() "/" x ("CHILDINFO" ("SUBSCRIBED"))', ((), b"/", b"x")),
])
def test_lines(line, want):
    assert parse_list_line(line) == want


def test_a_literal_name_and_the_rest_of_its_line():
    data = [(rb'(\HasNoChildren) "/" {7}', b"a\r\nb c]d"), b"", rb'() "/" INBOX']
    assert parse_list(data) == [((rb"\HasNoChildren",), b"/", b"a\r\nb c]d"),
                                ((), b"/", b"INBOX")]


@pytest.mark.parametrize("line", [b"", b"INBOX", b'(\\X "/" a', b'() "/', b'() "/" '])
def test_broken_lines_are_an_error_of_this_module(line):
    with pytest.raises(ListParseError):
        parse_list([line] if line else [b"x"])


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_any_quoted_name_comes_back_as_sent(name):
    quoted = b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    assert parse_list_line(b'() "/" ' + quoted)[2] == name


def test_safe_text_escapes_controls_and_keeps_lines():
    import io

    from migrate.textsafe import SafeStream, shown, shown_lines
    assert shown("a\x1b[31mb\n\x9b\u2066\udce9") == "a\\x1b[31mb\\n\\x9b\\u2066\\xe9"
    assert shown_lines("a\tb\nc\x00\r", keep="\r") == "a\tb\nc\\x00\r"
    out = io.StringIO()
    SafeStream(out).write("name\x1b]8;;http://x\x07 ok\n")
    assert out.getvalue() == "name\\x1b]8;;http://x\\x07 ok\n"
