"""Maildir, Thunderbird, EML and readpst trees: fixtures, read-only, corpus counts."""

from __future__ import annotations

import datetime as dt
import mailbox
import subprocess

import pytest

from migrate.sources import detect
from tests.support.builders import message, snapshot, write_mbox
from tests.support.readers_shared import (
    MAILDIR_CORPUS,
    PSTS,
    UTC,
    make_maildirpp,
    put,
    read_all,
    readpst,  # noqa: F401 - a fixture
    unread,
)

# -- maildir ------------------------------------------------------------------


def test_maildirpp_folders_flags_keywords_dates(tmp_path):
    when = make_maildirpp(tmp_path / "Maildir")
    assert detect(tmp_path / "Maildir") == "maildir"
    store, folders = read_all(tmp_path / "Maildir")
    assert set(folders) == {(), ("Archive", "2019"), ("Éléments envoyés",)}
    inbox = {m.data.split(b"Subject: ")[1].split(b"\n")[0].decode(): m for m in folders[()]}
    assert set(inbox) == {"replied seen", "flagged fwd kw", "trashed", "new unseen"}
    assert inbox["replied seen"].flags == {"\\Seen", "\\Answered"}
    assert inbox["flagged fwd kw"].flags == {"\\Flagged"}
    assert inbox["flagged fwd kw"].keywords == {"$Forwarded", "$Junk"}
    assert inbox["trashed"].skip_reason == "trashed"
    assert inbox["new unseen"].flags == frozenset()
    assert all(m.internaldate == when for m in inbox.values())
    assert [sorted(m.flags) for m in folders[("Archive", "2019")]] == [["\\Seen"], ["\\Draft"]]
    assert [n.kind for n in store.non_mail] == ["unfinished delivery (maildir tmp/)"]


def test_courier_keywords(tmp_path):
    root = tmp_path / "Maildir"
    put(root / "cur" / "1.m:2,S", message("tagged"))
    (root / "new").mkdir()
    put(root / "courierimapkeywords" / ":list", b"Work\nLater\n\n1.m:0 1\n")
    _, folders = read_all(root)
    assert folders[()][0].keywords == {"Work", "Later"}


def test_layout_fs_and_loose_files(tmp_path):
    root = tmp_path / "mail"
    put(root / "cur" / "1:2,", message("top"))
    put(root / "work" / "cur" / "2:2,S", message("work"))
    put(root / "work" / "clients" / "new" / "3", message("clients"))
    put(root / "work" / "4:2,", message("loose in folder dir"))
    _, folders = read_all(root)
    assert {k: len(v) for k, v in folders.items()} == {
        (): 1, ("work",): 2, ("work", "clients"): 1}


def test_thunderbird_maildir_store(tmp_path):
    """Thunderbird's maildir store: cur/ and tmp/, no new/, no info suffix."""
    acct = tmp_path / "Local Folders"
    put(acct / "Inbox" / "cur" / "1234567.eml", message("tb read", extra="X-Mozilla-Status: 0003"))
    put(acct / "Inbox" / "cur" / "1234568.eml", message("tb gone", extra="X-Mozilla-Status: 0009"))
    (acct / "Inbox" / "tmp").mkdir()
    put(acct / "Inbox.sbd" / "Sub" / "cur" / "99.eml", message("tb sub"))
    _, folders = read_all(acct)
    read, gone = folders[("Inbox",)]
    assert read.flags == {"\\Seen", "\\Answered"}
    assert gone.skip_reason == "deleted"
    assert len(folders[("Inbox", "Sub")]) == 1


# -- Thunderbird profiles -------------------------------------------------------

@pytest.mark.parametrize("layout", ["linux", "windows"])
def test_thunderbird_profile(tmp_path, layout):
    if layout == "linux":
        profile = tmp_path / ".thunderbird" / "abcd1234.default-release"
    else:
        profile = tmp_path / "AppData" / "Roaming" / "Thunderbird" / "Profiles" / "x1y2.default"
    (profile / "Mail" / "Local Folders" / "Archives.sbd").mkdir(parents=True)
    (profile / "prefs.js").write_text('user_pref("mail.server.server1.type", "pop3");\n')
    write_mbox(profile / "Mail" / "Local Folders" / "Sent", [message("sent", extra="X-Mozilla-Status: 0001")])
    (profile / "Mail" / "Local Folders" / "Sent.msf").write_text("// mork\n")
    write_mbox(profile / "Mail" / "Local Folders" / "Archives.sbd" / "2020",
               [message("a"), message("partial", extra="X-Mozilla-Status: 0401")])
    write_mbox(profile / "Mail" / "pop.example.com" / "Inbox",
               [message("pop inbox", extra="X-Mozilla-Status: 0002\nX-Mozilla-Keys: $label1")])
    (profile / "Mail" / "pop.example.com" / "popstate.dat").write_text("# POP state\n")
    (profile / "ImapMail" / "imap.example.com").mkdir(parents=True)
    assert detect(profile) == "thunderbird"
    store, folders = read_all(profile)
    assert {k: len(v) for k, v in folders.items()} == {
        ("Sent",): 1, ("Archives", "2020"): 2, ("Inbox",): 1}
    assert folders[("Archives", "2020")][1].notes == ("partial",)
    assert folders[("Inbox",)][0].flags == {"\\Answered"}
    assert folders[("Inbox",)][0].keywords == {"$label1"}
    assert any("IMAP" in n.kind for n in store.non_mail)


# -- EML trees -------------------------------------------------------------------

def test_eml_tree(tmp_path):
    root = tmp_path / "export"
    put(root / "Inbox" / "a.eml", message("plain eml"))
    put(root / "Inbox" / "b.eml", b"From someone Tue Mar  5 10:00:00 2019\n" + message("envelope"))
    put(root / "Inbox" / "notes.txt", b"just some text\n")
    put(root / "Projects" / "c", message("no extension", date="Sun, 01 Jan 2012 10:00:00 +0000"))
    assert detect(root) == "eml-tree"
    store, folders = read_all(root)
    a, b = folders[("Inbox",)]
    assert a.data == message("plain eml")
    assert b.data == message("envelope")  # From_ line dropped
    assert b.internaldate == dt.datetime(2019, 3, 5, 10, tzinfo=UTC)
    assert folders[("Projects",)][0].internaldate == dt.datetime(2012, 1, 1, 10, tzinfo=UTC)
    assert unread(store) == ["notes.txt"]  # named by the plan, with its size


def test_eml_file_holding_several_messages_is_split(tmp_path):
    write_mbox(tmp_path / "x" / "two.eml", [message("one"), message("two")])
    _, folders = read_all(tmp_path / "x", "eml-tree")
    assert [m.data for m in folders[()]] == [message("one"), message("two")]


# -- read-only, for every kind ------------------------------------------------------

def test_every_kind_reads_without_changing_a_byte(tmp_path):
    make_maildirpp(tmp_path / "maildir")
    write_mbox(tmp_path / "tree" / "Inbox", [message("t")])
    put(tmp_path / "eml" / "a.eml", message("e"))
    roots = [tmp_path / "maildir", tmp_path / "tree", tmp_path / "eml"]
    before = {r: snapshot(r) for r in roots}
    mtimes = {p: p.stat().st_mtime for r in roots for p in r.rglob("*")}
    entries = sorted(p for r in roots for p in r.rglob("*"))
    for p in entries:  # read-only, as a user's copied-off store may be
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        for r in roots:
            read_all(r)
    finally:
        for p in entries:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert {r: snapshot(r) for r in roots} == before
    assert sorted(p for r in roots for p in r.rglob("*")) == entries  # no lock/index files
    assert {p: p.stat().st_mtime for r in roots for p in r.rglob("*")} == mtimes


# -- corpus --------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAILDIR_CORPUS)
def test_corpus_maildir_every_file_read(corpus, name):
    root = corpus / "maildir" / name
    # independent count: every regular file outside tmp/ that is not a dot-file
    expected = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")
                      and p.parent.name != "tmp")
    store, folders = read_all(root)
    got = sorted(m.location for msgs in folders.values() for m in msgs)
    assert got == [str(p) for p in expected]
    assert all(m.skip_reason is None and m.data for msgs in folders.values() for m in msgs)


def test_corpus_mu_flags(corpus):
    _, folders = read_all(corpus / "maildir" / "mu" / "testdir")
    by_name = {m.location.rsplit("/", 1)[1]: m for m in folders[()]}
    assert by_name["multimime!2,FS"].flags == {"\\Flagged", "\\Seen"}
    assert by_name["1220863087.12663_7.mindcrime!2,RS"].flags == {"\\Answered", "\\Seen"}
    assert by_name["1220863087.12663_15.mindcrime!2,PS"].keywords == {"$Forwarded"}


def test_corpus_eml_every_file_accounted_for(corpus):
    root = corpus / "eml"
    files = [p for p in root.rglob("*") if p.is_file()]
    store, folders = read_all(root)
    messages = [m for msgs in folders.values() for m in msgs]
    from_files = {m.location.split(" message ")[0] for m in messages}
    assert len(from_files) + len(unread(store)) == len(files)
    assert unread(store) == ["msg_19.txt"]  # a digest body, no headers: named
    assert not any(m.data.startswith(b"From ") for m in messages)


@pytest.mark.parametrize("name", PSTS)
def test_corpus_pst_exported_with_readpst(corpus, readpst, tmp_path, name):
    out = tmp_path / "r"
    out.mkdir()
    subprocess.run([readpst, "-r", "-D", "-j", "0", "-q", "-o", str(out), str(corpus / "pst" / name)],
                   check=True, capture_output=True)
    # independent count: Python's mailbox on readpst's own mboxrd files (copied, never the source)
    per_file = []
    for path in out.rglob("mbox"):
        box = mailbox.mbox(str(path), create=False)
        per_file.append(len(box))
        box.close()
    expected = sum(per_file)
    if expected == 0:
        assert not any(out.rglob("mbox")) or all(p.stat().st_size == 0 for p in out.rglob("mbox"))
        return
    _, folders = read_all(out)
    assert sum(len(v) for v in folders.values()) == expected
    # folder by folder: each readpst mbox file is one folder with its own messages
    assert sorted(len(v) for v in folders.values() if v) == sorted(n for n in per_file if n)


def test_corpus_readpst_eml_mode(corpus, readpst, tmp_path):
    out = tmp_path / "e"
    out.mkdir()
    subprocess.run([readpst, "-e", "-D", "-j", "0", "-q", "-o", str(out), str(corpus / "pst/aleph/testPST.pst")],
                   check=True, capture_output=True)
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix == ".eml"]
    store, folders = read_all(out)
    assert sum(len(v) for v in folders.values()) == len(files) == 6
    for msgs in folders.values():
        for m in msgs:
            assert not m.data.startswith((b"From ", b">From "))


