"""The mbox reader against an independent oracle: Dovecot's own mbox driver.

Each file (the corpus's mbox files and every variant the builders make) is
put into a Dovecot configured with ``mail_location = mbox:``, read back by
IMAP, and compared with what our reader yields, message by message: count
and bytes (CRLF as sent). Two differences are by design and applied to our
side before comparing:

* Dovecot never removes mboxrd quoting (``>From`` stays); our reader removes
  one ``>`` except in Dovecot/UW files (mboxcl2). So one ``>`` is removed from
  Dovecot's ``^>+From `` lines for files that are not mboxcl2 (the oracle
  still decides where each message starts and ends and every other byte);
  the unquoting itself is tested on byte literals in test_mbox_reader.py;
* in its own files (mboxcl2) Dovecot hides its internal headers
  (``X-IMAPbase``, ``Content-Length``, ``Status``, ...): they are removed
  from our side;
* Dovecot refuses files whose first From_ line it cannot parse (``From -``,
  ``From `` with no sender): those are not comparable and are listed as such.
* a file that does not end with a blank line: Dovecot takes the last line
  break of the last message as the separator, our reader keeps it.
"""

from __future__ import annotations

import re

import pytest

from migrate import headers
from migrate.errors import SourceError
from migrate.sources.mbox import _MBOXCL2_MARKER, MboxStore
from tests.support.builders import message, write_mbox

_QUOTED = re.compile(rb"(?m)^>(>*From )")
_INTERNAL = re.compile(rb"(?im)^(?:content-length|status|x-imap|x-imapbase|x-keywords|x-status"
                       rb"|x-uid|x-uidl):[^\r\n]*\r\n")
CORPUS_FILES = ["aleph/plan.mbox", "comm-central/bugmail-1", "comm-central/mbox_mboxrd",
                "comm-central/mbox_modern", "cpython/mailbox_01.mbox",
                "neomutt-test-files/banana.mbox"]
# Dovecot answers "Mailbox isn't a valid mbox file" (its From_ line parser is strict)
NOT_COMPARABLE = ["comm-central/mbox_unquoted", "mimekit/content-length.mbox.txt",
                  "mimekit/issue1189.mbox.txt", "mimekit/simple.mbox.txt",
                  "mimekit/unmunged.mbox.txt"]


@pytest.fixture(scope="module")
def mbox_server(dovecot_servers):
    return dovecot_servers("mbox")


def compare(server, data: bytes, tmp_path):
    path = tmp_path / "file.mbox"
    path.write_bytes(data)
    ours = [m.data for f in MboxStore(path).folders() for m in f.messages()]
    account = server.add_user()
    account.place_mbox("oracle", data)
    theirs = [m.data for m in account.read_back()["oracle"]]
    assert len(ours) == len(theirs)
    cl2 = bool(ours) and bool(_MBOXCL2_MARKER.search(headers.header_block(ours[0])))
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    for i, (mine, dovecot) in enumerate(zip(ours, theirs)):
        mine = headers.to_crlf(mine)
        if cl2:
            head, _, rest = mine.partition(b"\r\n\r\n")
            mine = _INTERNAL.sub(b"", head + b"\r\n")[:-2] + b"\r\n\r\n" + rest
        else:
            dovecot = _QUOTED.sub(rb"\1", dovecot)
        if i == len(ours) - 1 and not body.endswith((b"\n\n", b"\r\n\r\n")):
            mine = mine[:-2] if mine.endswith(b"\r\n") and not dovecot.endswith(b"\r\n") else mine
        assert mine == dovecot, f"message {i} differs"
    return len(ours)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file_reads_as_dovecot_reads_it(corpus, mbox_server, tmp_path, name):
    data = (corpus / "mbox" / name).read_bytes()
    try:
        compare(mbox_server, data, tmp_path)
    except SourceError:
        pytest.fail(f"{name}: our reader refused a file Dovecot reads")


def _mboxcl2(bodies: list[bytes]) -> bytes:
    out = b""
    for i, body in enumerate(bodies):
        head = b"From: a@b\nSubject: cl2 %d\n" % i
        if i == 0:
            head += b"X-IMAPbase: 1 3\n"
        head += b"Content-Length: %d\n" % len(body)
        out += b"From MAILER-DAEMON Mon Jan  1 00:00:0%d 2001\n" % i + head + b"\n" + body + b"\n"
    return out


@pytest.mark.parametrize("variant", ["mboxo", "mboxrd-crlf", "mboxcl2-from-lines", "mixed"])
def test_builder_variants_read_as_dovecot_reads_them(mbox_server, tmp_path, variant):
    if variant == "mboxcl2-from-lines":
        data = _mboxcl2([b"plain body\n", b"said:\n>From the top\nFrom below, unquoted\n",
                         b">>From twice\n"])
    else:
        msgs = [message("one", body="a\nFrom inside a body\n"), message("two"),
                message("three", body=">From already quoted\nend\n")]
        eol = b"\r\n" if variant == "mboxrd-crlf" else b"\n"
        path = write_mbox(tmp_path / "built", msgs, eol=eol)
        data = path.read_bytes()
        if variant == "mixed":
            data += b"From x Mon Jan  1 00:00:09 2001\nSubject: tail\n\nlast\n"
    assert compare(mbox_server, data, tmp_path) >= 3


@pytest.mark.parametrize("name", NOT_COMPARABLE)
def test_files_dovecot_cannot_read_are_listed_honestly(corpus, mbox_server, name):
    """Keep NOT_COMPARABLE true: if Dovecot reads one of these, move it to CORPUS_FILES."""
    import imapclient
    account = mbox_server.add_user()
    account.place_mbox("oracle", (corpus / "mbox" / name).read_bytes())
    with pytest.raises(imapclient.exceptions.IMAPClientError, match="valid mbox"):
        account.read_back()
