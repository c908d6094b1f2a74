"""What the tests of test_readers share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

from migrate.sources import open_store
from migrate.sources.accounting import unread_files
from tests.conftest import skip_or_fail
from tests.support.builders import message

UTC = dt.timezone.utc


def read_all(path, kind=None):
    store = open_store(path, kind)
    return store, {f.name: list(f.messages()) for f in store.folders()}


def unread(store) -> list[str]:
    """Names of the files of *store* that no reader took and no rule knows."""
    return [item.path.name for item in unread_files(store, store.folders())]


def put(path, data: bytes, when: dt.datetime | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when:
        ts = when.timestamp()
        os.utime(path, (ts, ts))
    return path


def make_maildirpp(root):
    """Dovecot/Courier Maildir++: INBOX at the root, .Folder.Child beside it."""
    for d in ("cur", "new", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    when = dt.datetime(2017, 6, 5, 4, 3, 2, tzinfo=UTC)
    put(root / "cur" / "1000.a.host:2,RS", message("replied seen"), when)
    put(root / "cur" / "1001.b.host:2,FPa", message("flagged fwd kw"), when)
    put(root / "cur" / "1002.c.host:2,ST", message("trashed"), when)
    put(root / "new" / "1003.d.host", message("new unseen"), when)
    put(root / "tmp" / "1004.e.host", message("half delivered"), when)
    (root / "dovecot-keywords").write_text("0 $Junk\n1 project\n")
    (root / "dovecot-uidlist").write_text("3 V1 N5\n")
    for d in ("cur", "new", "tmp"):
        (root / ".Archive.2019" / d).mkdir(parents=True, exist_ok=True)
        (root / ".&AMk-l&AOk-ments envoy&AOk-s" / d).mkdir(parents=True, exist_ok=True)
    put(root / ".Archive.2019" / "cur" / "2000.x.host!2,S", message("windows bang"), when)
    put(root / ".Archive.2019" / "cur" / "2001.y.host;2,D", message("windows semicolon"), when)
    put(root / ".&AMk-l&AOk-ments envoy&AOk-s" / "cur" / "3000.z:2,S", message("envoyé"), when)
    return when


MAILDIR_CORPUS = ["mu/testdir", "mu/testdir2", "mu/cjk", "notmuch/default", "notmuch/duplicate",
                  "notmuch/lkml"]


PSTS = ["aleph/testPST.pst", "pstsdk/sample1.pst", "pstsdk/sample2.pst", "pstsdk/submessage.pst",
        "ruby-msg/msgInMsg.pst", "ruby-msg/200 recipients.pst", "ruby-msg/attachAndInline.pst",
        "pst-extractor/alpha-beta-gamma-delta.pst", "java-libpst/dist-list.pst",
        "go-pst/32-bit.pst", "outlook-pst-rs/Empty.pst"]


@pytest.fixture
def readpst():
    path = shutil.which("readpst")
    if not path:
        skip_or_fail("readpst (Debian pst-utils) is not installed; scripts/test.sh installs it")
    return path
