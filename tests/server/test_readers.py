"""Maildir, Thunderbird, EML and readpst trees: fixtures, read-only, corpus counts: the
server tests (tests/unit/test_readers.py has the rest, and says what they prove)."""

from __future__ import annotations

from tests.support.builders import crlf, message
from tests.support.readers_shared import make_maildirpp

# -- maildir ------------------------------------------------------------------


# -- Thunderbird profiles -------------------------------------------------------


# -- EML trees -------------------------------------------------------------------


# -- read-only, for every kind ------------------------------------------------------


# -- corpus --------------------------------------------------------------------------


def test_upload_maildir_flags_and_keywords(tmp_path, account, mm):
    when = make_maildirpp(tmp_path / "Maildir")
    r = mm("run", tmp_path / "Maildir", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == 0, r.err  # the trashed message stays behind, as meant
    server = account.read_back()
    inbox = {m.data.split(b"Subject: ")[1].split(b"\r\n")[0]: m for m in server["INBOX"]}
    assert inbox[b"flagged fwd kw"].keyflags == {"\\Flagged", "$Forwarded", "$Junk"}
    assert inbox[b"replied seen"].keyflags == {"\\Seen", "\\Answered"}
    assert inbox[b"replied seen"].internaldate == when
    assert b"trashed" not in inbox
    assert [m.data for m in server["Archive/2019"]] == [crlf(message("windows bang")),
                                                        crlf(message("windows semicolon"))]
    assert [m.data for m in server["Sent"]] == [crlf(message("envoyé"))]  # localised Sent
