"""Outlook .pst files read directly (libpff-python), checked on the real corpus and
Dovecot: the unit tests (tests/functional/test_pst.py has the rest, and says what they
prove)."""

from __future__ import annotations

import email
import email.policy
import email.utils
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.errors import ExitCode
from migrate.sources import open_store
from tests.conftest import skip_or_fail
from tests.support.pst_shared import (
    MAIL_PSTS,
    _addr,
    need_the_pst_extra,
    parts_of,
    shutil_which,
    split_mbox_file,
)

need_the_pst_extra()


def test_agrees_with_readpst_where_readpst_exports(corpus, tmp_path):
    if not shutil_which("readpst"):
        skip_or_fail("readpst (pst-utils) is not installed")
    compared = 0
    for name in MAIL_PSTS:
        out = tmp_path / Path(name).stem
        out.mkdir()
        subprocess.run(["readpst", "-r", "-D", "-j", "0", "-o", str(out),
                        str(corpus / "pst" / name)], capture_output=True, check=True)
        theirs = {}
        for mbox_file in out.rglob("mbox"):
            for raw in split_mbox_file(mbox_file):
                msg, hashes, _ = parts_of(raw)
                theirs[str(msg["subject"] or "")] = (msg, hashes)
        store = open_store(corpus / "pst" / name)
        for folder in store.folders():
            for sm in folder.messages():
                ours, hashes, _ = parts_of(sm.data)
                subject = str(ours["subject"] or "")
                if subject not in theirs:
                    continue  # readpst skipped it (posts, ...)
                msg, their_hashes = theirs[subject]
                compared += 1
                if ours["from"] is None:  # an unsent item has no sender; readpst invents one
                    assert str(msg["from"]).upper() == "MAILER-DAEMON", (name, subject)
                else:
                    assert _addr(ours["from"]) == _addr(msg["from"]), (name, subject)
                if msg["date"] and ours["date"]:
                    assert abs((ours["date"].datetime - msg["date"].datetime).total_seconds()) \
                        < 2, (name, subject)
                assert hashes == their_hashes, (name, subject)
    assert compared >= 6


def test_without_the_extra_the_message_says_what_to_do(tmp_path, corpus):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "pypff.py").write_text("raise ImportError('pretend it is not installed')\n")
    import os

    from tests.conftest import ROOT
    env = dict(os.environ, PYTHONPATH=str(blocker))
    done = subprocess.run([sys.executable, "-m", "migrate", "plan",
                           str(corpus / "pst" / "pstsdk" / "sample1.pst")],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == ExitCode.USAGE
    assert "pip install 'mailmigrate[pst]'" in done.stderr and "readpst -r" in done.stderr


@pytest.mark.parametrize("name", MAIL_PSTS)
def test_same_item_same_bytes_and_clean_mime(corpus, name):
    """Exactly-once needs identical bytes on every read; one MIME-Version, at the top."""
    def read():
        store = open_store(corpus / "pst" / name)
        return [m.data for f in store.folders() for m in f.messages()]
    first, second = read(), read()
    assert first == second
    for data in first:
        head = data.split(b"\r\n\r\n", 1)[0]
        assert sum(1 for line in head.split(b"\r\n") if line.startswith(b"MIME-Version:")) == 1
        msg = email.message_from_bytes(data, policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() == "message/rfc822":
                assert part.get_param("boundary") is None
        assert not msg.defects, msg.defects


