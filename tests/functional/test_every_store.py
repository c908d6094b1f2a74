"""Every store a POP user has, read whole, and every file under a source accounted for: the
functional tests (tests/unit/test_every_store.py has the rest, and says what they
prove)."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import pytest

from migrate.sources import open_store
from tests.support.builders import message
from tests.support.every_store_shared import (
    KINDS,
    OLM,
    TAKEOUT,
    _eml_tree,
    _mh_folder,
    emlx,
    make_dbx,
    plan_json,
)

# -- KMail: subfolders in .Name.directory/, mbox files beside maildirs ---------------


def test_kmail_mixed_store_reads_mbox_files_beside_maildirs(corpus, mm, tmp_path):
    code, plan, out = plan_json(mm, tmp_path, corpus / "kmail" / "kdepim-runtime-mixedmaildir")
    assert code == 0, out
    assert {r["folder"]: r["messages"] for r in plan["folders"]} == {
        "dimap": 4, "maildir": 4, "maildir-tagged": 4, "mbox": 4, "mbox-tagged": 4,
        "mbox-unpurged": 4}
    assert [Path(r["path"]).name for r in plan["unread"]] == ["README"]  # named, not mail
    assert "README (1.2 KB)" in out
    # KMail's X-Status letters, as the store's README lists the mbox folder's messages:
    # unread, task, new, important
    store = open_store(corpus / "kmail" / "kdepim-runtime-mixedmaildir")
    (mbox,) = [f for f in store.folders() if f.name == ("mbox",)]
    assert [(sorted(m.flags), sorted(m.keywords)) for m in mbox.messages()] == [
        ([], []), (["\\Seen"], ["$Todo"]), ([], []), (["\\Flagged", "\\Seen"], [])]


# -- nothing unaccounted ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_file_and_unread_subfolder_are_named_and_exit_1(kind, mm, tmp_path):
    build, (odd, data) = KINDS[kind]
    root = tmp_path / "src"
    build(root)
    code, plan, out = plan_json(mm, tmp_path, root)
    assert code == 0 and plan["unread"] == [], out  # the clean store: all accounted
    assert {r["store_type"] for r in plan["folders"]} == {kind}, plan["folders"]
    blob = "Mail/Local Folders/blob.bin" if kind == "thunderbird" else "blob.bin"
    (root / blob).write_bytes(bytes(range(256)) * 4)  # (a profile's own files are harmless)
    (root / odd).parent.mkdir(parents=True, exist_ok=True)
    (root / odd).write_bytes(data)
    shutil.rmtree(tmp_path / "rep")
    code, plan, out = plan_json(mm, tmp_path, root)
    assert code == 1, out
    rows = {Path(r["path"]).relative_to(root).as_posix(): r for r in plan["unread"]}
    assert rows == {
        blob: {"path": str(root / blob), "size": 1024, "looks_like_mail": False},
        odd: {"path": str(root / odd), "size": len(data), "looks_like_mail": True}}, rows
    assert plan["summary"]["unread_mail_like"] == 1
    assert "NOT READ, BUT LOOKS LIKE MAIL" in out and str(root / odd) in out
    assert "blob.bin (1.0 KB)" in out
    page = (tmp_path / "rep" / "plan.html").read_text()
    assert "Files that look like mail and were not read" in page and odd.split("/")[-1] in page


# -- MH: nmh sequences, Sylpheed/Claws marks ------------------------------------------


# -- Apple Mail: .emlx, .partial.emlx with Attachments/, V2..V10 trees -----------------


def test_every_corpus_emlx_is_read_or_refused_by_name(corpus, mm, tmp_path):
    code, plan, out = plan_json(mm, tmp_path, corpus / "emlx")
    assert plan["summary"]["messages"] == 22
    reasons = {r["folder"]: r["reasons"] for r in plan["folders"]}
    assert reasons["terhechte-emlx"] == {"unreadable": 3}  # broken1-3, on purpose
    assert reasons["kigster-search-emlx-mailbox"] == {"unreadable": 2}  # cut down upstream
    assert reasons["partial-emlx-converter/skip-emlx"] == {"unreadable": 1}  # no byte count
    assert reasons["crb912-emlx_parse"] == {} and reasons["tika"] == {}
    # the converter's expected .eml output sits in the same tree: named, exit 1
    assert code == 1 and {Path(u["path"]).name for u in plan["unread"]} == {
        "114862.eml", "114892.eml"}


# -- Gmail Takeout: labels become folders, each message sent once ----------------------


def test_takeout_french_export_same_folders(corpus, mm, tmp_path):
    source = corpus / "takeout" / "suitenumerique-transfers" / \
        "Tous les messages, y compris ceux du dossier Spam .mbox"
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    rows = {r["folder"]: r["messages"] for r in plan["folders"]}
    assert rows["INBOX"] == 11 and rows["Trash"] == 3 and rows["Drafts"] == 1
    assert not {"Non lus", "Ouvert", "Favoris", "Boîte de réception"} & set(rows)


# -- Outlook Express: .dbx (OE5/6), .mbx (OE4), Folders.dbx ----------------------------


def test_outlook_express_corpus(corpus, mm, tmp_path):
    code, plan, out = plan_json(mm, tmp_path, corpus / "dbx")
    assert code == 0, out
    rows = {r["folder"]: r["messages"] for r in plan["folders"]}
    assert plan["summary"]["messages"] == 71
    assert rows["iped/test_OutlookDBX"] == 28 and rows["mailimporter/oe/test4"] == 3
    assert rows["mailimporter/oe/test2"] == 3  # OE4 inside, whatever the name says
    assert rows["mailimporter/oe/test1"] == 1 and rows["mailimporter/oe/test3"] == 3
    assert any("settings or cache" in n["kind"] and n["path"].endswith("Offline.dbx")
               for n in plan["non_mail"])
    assert plan["unread"] == []


# -- Outlook for Mac .olm: messages rebuilt from XML ------------------------------------


# -- Outlook .msg files: MAPI properties rebuilt as MIME (the .pst code) ----------------


def test_msg_corpus_every_file_a_message_or_named(corpus, mm, tmp_path):
    pytest.importorskip("olefile")
    import email
    import email.policy
    code, plan, out = plan_json(mm, tmp_path, corpus / "msg")
    assert code == 0, out
    assert plan["summary"]["messages"] == 43 and plan["summary"]["counts"]["skip"] == 0
    kinds = collections.Counter(n["kind"].split(" (")[0] for n in plan["non_mail"])
    assert kinds == {"calendar item": 3, "contact": 4, "note": 3, "task": 1,
                     "distribution list": 1}, kinds
    assert plan["unread"] == []
    store = open_store(corpus / "msg")
    got = {Path(m.location).name: m for f in store.folders() for m in f.messages()}
    subject = lambda name: email.message_from_bytes(  # noqa: E731
        got[name].data, policy=email.policy.default)["Subject"]
    assert "Ф" in subject("cyrillic_message.msg") or "а" in subject("cyrillic_message.msg")
    assert got["fnf.msg"].data.startswith(b"Received:") or b"\nSubject:" in got["fnf.msg"].data
    nested = email.message_from_bytes(got["msgInMsgInMsg.msg"].data)
    assert sum(p.get_content_type() == "message/rfc822" for p in nested.walk()) >= 2
    received = email.message_from_bytes(got["example_received_unicode.msg"].data)
    assert received["Received"] and any(p.get_filename() for p in received.walk())


# -- Windows Live Mail: EML folders, state in a database this tool names -------------


# -- discover: each store where its client keeps it, named by its person ----------------

def test_discover_finds_every_store_kind_in_a_folder_of_homes(corpus, mm, tmp_path):
    import struct
    homes = tmp_path / "Users"
    ann, bob = homes / "ann", homes / "bob"
    # ann: a Windows XP disk with Outlook Express and .msg files on the desktop
    oe = ann / "Local Settings" / "Application Data" / "Identities" / "{A1}" / "Microsoft" / \
        "Outlook Express"
    oe.mkdir(parents=True)
    (oe / "Inbox.dbx").write_bytes(make_dbx([(message("oe"), 0x81)]))
    (ann / "Desktop" / "saved").mkdir(parents=True)
    shutil.copy(corpus / "msg" / "iped" / "test_msgSample.msg", ann / "Desktop" / "saved")
    (ann / "Documents").mkdir()
    # bob: a Mac with Apple Mail, an Outlook for Mac database, an .olm and a Takeout,
    # and a Linux side with KMail and Claws Mail
    messages = bob / "Library" / "Mail" / "V10" / "UUID" / "INBOX.mbox" / "Messages"
    messages.mkdir(parents=True)
    (messages / "1.emlx").write_bytes(emlx(message("apple"), 1))
    (bob / "Library" / "Group Containers" / "UBF8T346G9.Office" / "Outlook").mkdir(
        parents=True)
    (bob / "Documents").mkdir()
    shutil.copy(corpus / OLM, bob / "Documents" / "archive.olm")
    takeout = bob / "Downloads" / "Takeout" / "Mail"
    takeout.mkdir(parents=True)
    shutil.copy(corpus / "takeout" / "suitenumerique-messages" / "messages.mbox",
                takeout / TAKEOUT)
    kmail = bob / ".local" / "share" / "local-mail" / "inbox"
    for part in ("cur", "new", "tmp"):
        (kmail / part).mkdir(parents=True)
    (kmail / "cur" / "1.x:2,S").write_bytes(message("kmail"))
    _mh_folder(bob / "Mail" / "inbox", 2)
    (bob / "Mail" / "inbox" / ".claws_mark").write_bytes(struct.pack("<I", 2))
    r = mm("discover", homes, "--json")
    assert r.code == 0, r.err
    found = {(f["owner"], f["kind"]) for f in json.loads(r.out)}
    assert {("ann", "outlook-express"), ("ann", "msg"), ("bob", "apple-mail"),
            ("bob", "outlook-mac"), ("bob", "olm"), ("bob", "takeout"), ("bob", "maildir"),
            ("bob", "mh")} <= found, found
    jobs = tmp_path / "jobs.toml"
    r = mm("discover", homes, "--write-jobs", jobs)
    assert r.code == 0, r.err
    import tomllib
    written = tomllib.loads(jobs.read_text())["jobs"]
    assert set(written) == {"ann", "bob"}
    assert len(written["bob"]["sources"]) == 5  # Outlook for Mac's database: a comment
    # a store is never also listed by a folder inside it (KMail's inbox, a maildir itself)
    assert not any(a != b and Path(b) in Path(a).parents
                   for a in written["bob"]["sources"] for b in written["bob"]["sources"])
    assert "File > Export" in jobs.read_text()


def test_olm_contacts_calendar_tasks_notes_exported(corpus, mm, tmp_path):
    r = mm("plan", corpus / OLM, "--export-non-mail", tmp_path / "out")
    assert r.code == 0, r.err
    files = sorted(p.relative_to(tmp_path / "out").as_posix()
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    kinds = collections.Counter(Path(f).name.split("-")[0] for f in files)
    assert kinds == {"contact": 5, "group": 2, "appointment": 8, "task": 5, "note": 1}, kinds
    card = next((tmp_path / "out").rglob("contact-*.vcf")).read_bytes().decode()
    assert card.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:")
    everything = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.vcf"))
    assert "EMAIL;TYPE=INTERNET:jane@not.mail" in everything
    assert "X-ADDRESSBOOKSERVER-MEMBER:mailto:jane.doe@acme.com" in everything
    event = next((tmp_path / "out").rglob("appointment-*.ics")).read_text()
    assert "BEGIN:VEVENT" in event and "DTSTART:2018" in event
    assert "exported 8 x appointment" in r.out


def test_plan_of_library_reads_apple_mail_newest_version_only(mm, tmp_path):
    library = tmp_path / "Library"
    for version in ("V2", "V10"):
        box = library / "Mail" / version / "ACCOUNT" / "INBOX.mbox" / "Messages"
        box.mkdir(parents=True)
        (box / "1.emlx").write_bytes(emlx(message("apple"), 1))
    (library / "Preferences").mkdir()
    (library / "Preferences" / "com.apple.mail.plist").write_bytes(b"bplist00")
    code, plan, out = plan_json(mm, tmp_path, library)
    assert code == 0, out
    assert [(r["folder"], r["messages"], r["store_type"]) for r in plan["folders"]] == [
        ("INBOX", 1, "apple-mail")]


def test_a_hostile_unread_file_name_is_escaped_in_every_report(mm, tmp_path):
    root = tmp_path / "src"
    _eml_tree(root)
    odd = root / "<script>alert(1)<\x1b[2J.dbx"
    odd.write_bytes(b"\x00binary")
    code, plan, out = plan_json(mm, tmp_path, root)
    assert code == 1 and "\x1b" not in out  # the terminal: made safe
    page = (tmp_path / "rep" / "plan.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
