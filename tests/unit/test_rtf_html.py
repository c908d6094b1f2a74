"""HTML unpacked from Outlook's encapsulated RTF (MS-OXRTFEX), without pypff."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from migrate.sources.rtf_html import extract_html

HEAD = rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}" \
       rb"{\colortbl\red0\green0\blue0;}\uc1\pard\plain "


def test_tags_text_and_suppressed_rtf():
    rtf = HEAD + (rb"{\*\htmltag64 <p>}Caf\'e9 \htmlrtf {\b bold only in RTF}\htmlrtf0 done"
                  rb"\par{\*\htmltag72 </p>}{\*\mhtmltag84 ignored}{\*\htmltag84 <img "
                  b'src="cid:a@b">}}')
    assert extract_html(rtf) == '<p>Café done\r\n</p><img src="cid:a@b">'


def test_unicode_escapes_with_fallback_characters_skipped():
    rtf = HEAD + rb"{\*\htmltag0 <b>}\u26085?\u26412?{\*\htmltag0 </b>}}"
    assert extract_html(rtf) == "<b>日本</b>"


def test_double_byte_code_page():
    rtf = rb"{\rtf1\ansi\ansicpg932\fromhtml1 {\*\htmltag0 <i>}\'93\'fa\'96\'7b{\*\htmltag0 </i>}}"
    assert extract_html(rtf) == "<i>日本</i>"


def test_plain_rtf_is_not_html():
    assert extract_html(rb"{\rtf1\ansi Hello\par}") is None


def _rtf_text(text: str) -> bytes:
    out = []
    for ch in text:
        if ch in "\\{}":
            out.append(b"\\" + ch.encode())
        elif 32 <= ord(ch) < 127:
            out.append(ch.encode())
        else:
            code = ord(ch)
            out.append(b"\\u%d?" % (code - 65536 if code > 32767 else code))
    return b"".join(out)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0xFFFF,
                                      blacklist_categories=("Cs",)), max_size=60))
def test_any_text_between_tags_comes_back(text):
    rtf = HEAD + rb"{\*\htmltag0 <p>}" + _rtf_text(text) + rb"{\*\htmltag0 </p>}}"
    assert extract_html(rtf) == ("<p>" + text + "</p>").strip()
