"""Every store a POP user has, read whole, and every file under a source accounted for.

Real samples from ../shared/corpus (PROVENANCE.md gives their counts and flags), the
rest built here; plan -> run -> verify on a real Dovecot for each kind.
"""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import strategies as st

from migrate.sources import open_store
from tests.support.builders import message, write_mbox


def moved(source: Path, account, mm, tmp_path, *extra, code: int = 0) -> dict:
    """run, then verify, of *source* into *account*: the server's mailboxes afterwards.
    *code* 1: some messages of the source cannot move (named), the rest all arrived."""
    args = [*account.cli_args(), "--state", tmp_path / "state.sqlite"]
    r = mm("run", source, *args, "--backup-dir", tmp_path / "bk", "--yes", *extra,
           account=account)
    assert r.code == code, r.out + r.err
    v = mm("verify", source, *args, *extra, account=account)
    assert v.code == 0, v.out + v.err
    return {name: boxes for name, boxes in account.read_back().items()}


def plan_json(mm, tmp_path, *args) -> tuple[int, dict, str]:
    r = mm("plan", *args, "--report", tmp_path / "rep")
    document = json.loads((tmp_path / "rep" / "plan.json").read_text())
    return r.code, document, r.out + r.err


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

def _mbox_tree(root: Path) -> None:
    write_mbox(root / "Inbox", [message("one"), message("two")])
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")


def _maildir(root: Path) -> None:
    for part in ("cur", "new", "tmp"):
        (root / part).mkdir(parents=True)
    (root / "cur" / "1.host:2,S").write_bytes(message("one"))
    (root / "dovecot-uidlist").write_bytes(b"3 V1 N2\n")


def _eml_tree(root: Path) -> None:
    (root / "Inbox").mkdir(parents=True)
    (root / "Inbox" / "a.eml").write_bytes(message("one"))


def _thunderbird(root: Path) -> None:
    (root / "prefs.js").parent.mkdir(parents=True)
    (root / "prefs.js").write_text("// prefs\n")
    (root / "places.sqlite").write_bytes(b"SQLite format 3\0")
    _mbox_tree(root / "Mail" / "Local Folders")


def _mh(root: Path) -> None:
    _mh_folder(root / "inbox", 2)
    (root / "inbox" / ".mh_sequences").write_text("unseen: 2\n")


def _apple(root: Path) -> None:
    box = root / "V10" / "ACCOUNT" / "INBOX.mbox" / "Messages"
    box.mkdir(parents=True)
    (box / "1.emlx").write_bytes(emlx(message("apple"), 1))


def _takeout(root: Path) -> None:
    write_mbox(root / "Takeout" / "Mail" / "All mail.mbox",
               [message("t", extra="X-GM-THRID: 1\nX-Gmail-Labels: Inbox\n")])


def _oe(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "Inbox.dbx").write_bytes(make_dbx([(message("oe"), 0x81)]))


def _olm(root: Path) -> None:
    import zipfile
    root.mkdir(parents=True)
    with zipfile.ZipFile(root / "export.olm", "w") as z:
        z.writestr("Local/com.microsoft.__Messages/Inbox/message_00000.xml",
                   "<emails><email><OPFMessageCopySubject>x</OPFMessageCopySubject>"
                   "</email></emails>")


def _msg(root: Path) -> None:
    (root / "saved").mkdir(parents=True)
    (root / "saved" / "a.msg").write_bytes(message("rfc822 named .msg"))


def _wlm(root: Path) -> None:
    (root / "acct" / "Inbox").mkdir(parents=True)
    (root / "acct" / "Inbox" / "x.eml").write_bytes(message("wlm"))
    (root / "Mail.MSMessageStore").write_bytes(b"ESE")


STRAY = ("Odd/stray.txt", message("a message saved as text"))
JUNK_DBX = ("Archive/old.dbx", b"\x00\x01 a damaged Outlook Express file")
# (builder, a subfolder of a shape the kind does not read: relative path and bytes)
KINDS = {
    "mh": (_mh, STRAY), "apple-mail": (_apple, STRAY), "takeout": (_takeout, STRAY),
    "outlook-express": (_oe, STRAY), "olm": (_olm, STRAY), "msg": (_msg, JUNK_DBX),
    "windows-live-mail": (_wlm, JUNK_DBX),
    "mbox-tree": (_mbox_tree, ("Work.sbd/saved-message.txt", message("a message saved as text"))),
    "maildir": (_maildir, (".hidden-client/0001", message("hidden"))),
    "eml-tree": (_eml_tree, ("Archive/old.dbx", b"\x00\x01 a damaged Outlook Express file")),
    "thunderbird": (_thunderbird, ("Mail/Local Folders/Inbox.sbd/saved.eml",
                                   message("eml in a profile"))),
}


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


# Random trees: every file under a source is read, known, or named.
_names = st.sampled_from(["Inbox", "a.eml", "b", "notes.txt", ".DS_Store", "x.msf",
                          "cur", "new", "tmp", "Sent.sbd", ".hidden", "c.mbox", "d.emlx",
                          "Info.plist", "1", "2", "blob", ".mh_sequences", ".x.directory",
                          "Messages", "Folders.dbx", "e.msg", "f.olm", ",3",
                          "Mail.MSMessageStore", "g.partial.emlx"])
_contents = st.sampled_from([message("m"), b"From a@b Sat Jan  1 00:00:00 2000\n" +
                             message("mb"), b"", b"\x00\x01binary", b"plain words\n"])


# -- MH: nmh sequences, Sylpheed/Claws marks ------------------------------------------


def _mh_folder(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (root / str(i)).write_bytes(message(f"mh {i}"))


def subject_number(m) -> int:
    import re
    return int(re.search(rb"Subject: \S+ (\d+)", m.data).group(1))


# -- Apple Mail: .emlx, .partial.emlx with Attachments/, V2..V10 trees -----------------

def emlx(data: bytes, flags: int | None = None, received: int | None = None) -> bytes:
    """An .emlx file: byte count, message, property list (as Mail writes it)."""
    import plistlib
    plist = {k: v for k, v in (("flags", flags), ("date-received", received)) if v is not None}
    return f"{len(data)}      \n".encode() + data + plistlib.dumps(plist)


def _leaves(data: bytes) -> list:
    import email
    import hashlib
    m = email.message_from_bytes(data.replace(b"\r\n", b"\n"))
    return [(p.get_filename() or p.get_content_type(), hashlib.sha256(
        (p.get_payload(decode=True) or b"").replace(b"\r\n", b"\n").rstrip()).hexdigest())
        for p in m.walk() if not p.is_multipart()]


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

TAKEOUT = "All mail Including Spam and Trash.mbox"


def _labels_line(data: bytes) -> bytes:
    from migrate.sources.takeout import labels_of
    return ",".join(labels_of(data)).encode()


def test_takeout_french_export_same_folders(corpus, mm, tmp_path):
    source = corpus / "takeout" / "suitenumerique-transfers" / \
        "Tous les messages, y compris ceux du dossier Spam .mbox"
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    rows = {r["folder"]: r["messages"] for r in plan["folders"]}
    assert rows["INBOX"] == 11 and rows["Trash"] == 3 and rows["Drafts"] == 1
    assert not {"Non lus", "Ouvert", "Favoris", "Boîte de réception"} & set(rows)


# -- Outlook Express: .dbx (OE5/6), .mbx (OE4), Folders.dbx ----------------------------

def make_dbx(messages: list[tuple[bytes, int]], block: int = 0x200) -> bytes:
    """A minimal OE5/6 message file, byte by byte as the format says: the header,
    one index node, one item per message (flags direct, text pointer and time
    received indirect), the text in chained blocks of *block* bytes."""
    import struct
    out = bytearray(0x24BC)
    out[0:8] = b"\xcf\xad\x12\xfe\xc5\xfd\x74\x6f"
    node = len(out)
    out += bytearray(0x18 + 12 * len(messages))
    entries = []
    for text, flags in messages:
        chunks = [text[i:i + block] for i in range(0, len(text), block)] or [b""]
        starts = []
        for chunk in chunks:
            starts.append(len(out))
            out += struct.pack("<IIHHI", len(out), block, len(chunk), 0, 0) + chunk.ljust(block,
                                                                                  b"\0")
        for a, b in zip(starts, starts[1:]):
            struct.pack_into("<I", out, a + 12, b)
        item = len(out)
        data = struct.pack("<I", starts[0]) + struct.pack("<Q", 131_000_000_000_000_000)
        body = bytes([0x81]) + flags.to_bytes(3, "little") + bytes([0x04]) + \
            (0).to_bytes(3, "little") + bytes([0x12]) + (4).to_bytes(3, "little") + data
        out += struct.pack("<IIHBB", item, len(body), 0, 3, 0) + body
        entries.append(item)
    struct.pack_into("<I", out, node, node)
    out[node + 0x11] = len(messages)
    for i, item in enumerate(entries):
        struct.pack_into("<III", out, node + 0x18 + 12 * i, item, 0, 0)
    struct.pack_into("<I", out, 0xC4, len(messages))
    struct.pack_into("<I", out, 0xE4, node)
    return bytes(out)


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

OLM = "olm/OLMReader/outlook_example.olm"


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
