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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.sources import open_store
from migrate.sources.accounting import unread_files
from tests.builders import message, write_mbox


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

def test_kmail_subfolders_at_any_depth(corpus, account, mm, tmp_path):
    source = corpus / "kmail" / "kdepim-runtime-maildir"
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    assert {r["folder"]: r["messages"] for r in plan["folders"]} == {
        "root": 1, "root/child1": 2, "root/child1/grandchild": 1, "root/child2": 0}
    assert plan["unread"] == []  # the .keep files are placeholders, named harmless
    boxes = moved(source, account, mm, tmp_path)
    by_box = {name: len(msgs) for name, msgs in boxes.items() if msgs}
    assert by_box == {"root": 1, "root/child1": 2, "root/child1/grandchild": 1}, by_box
    assert "root/child2" in boxes  # every folder arrives, empty or not
    assert all(m.keyflags == {"\\Seen"} for msgs in boxes.values() for m in msgs)


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


def test_run_names_the_unread_files_and_exits_1(account, mm, tmp_path):
    root = tmp_path / "src"
    _eml_tree(root)
    odd = root / "Archive" / "old.dbx"
    odd.parent.mkdir(parents=True)
    odd.write_bytes(b"\x00\x01 a damaged Outlook Express file")
    r = mm("run", root, *account.cli_args(), "--state", tmp_path / "s.sqlite",
           "--backup-dir", tmp_path / "bk", "--yes", account=account)
    assert r.code == 1, r.out + r.err
    assert "NOT READ, BUT LOOKS LIKE MAIL" in r.out and str(odd) in r.out
    summary = json.loads((tmp_path / "s.run.json").read_text())
    assert summary["unread_mail_like"] == 1
    assert [Path(u["path"]).name for u in summary["unread"]] == ["old.dbx"]


# Random trees: every file under a source is read, known, or named.
_names = st.sampled_from(["Inbox", "a.eml", "b", "notes.txt", ".DS_Store", "x.msf",
                          "cur", "new", "tmp", "Sent.sbd", ".hidden", "c.mbox", "d.emlx",
                          "Info.plist", "1", "2", "blob", ".mh_sequences", ".x.directory",
                          "Messages", "Folders.dbx", "e.msg", "f.olm", ",3",
                          "Mail.MSMessageStore", "g.partial.emlx"])
_contents = st.sampled_from([message("m"), b"From a@b Sat Jan  1 00:00:00 2000\n" +
                             message("mb"), b"", b"\x00\x01binary", b"plain words\n"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(_names, min_size=1, max_size=3), _contents), min_size=1,
                max_size=12))
def test_every_file_of_a_random_tree_is_read_known_or_named(tmp_path_factory, tree):
    root = tmp_path_factory.mktemp("tree")
    for parts, data in tree:
        path = root.joinpath(*parts)
        if any(p.is_file() for p in [*path.parents][: len(parts) - 1]) or path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        store = open_store(root)
    except Exception:  # noqa: BLE001 - nothing recognised: the tree is refused, by a sentence
        return
    folders = store.folders()
    read = set()
    for folder in folders:
        read.update(map(Path, folder.inputs()))
    unread = {u.path for u in unread_files(store, folders)}
    named = {Path(n.path) for n in store.non_mail}
    for path in (p for p in root.rglob("*") if p.is_file()):
        assert path in read or path in unread or path in named or \
            store.harmless(path) is not None, path


# -- MH: nmh sequences, Sylpheed/Claws marks ------------------------------------------

def test_sylpheed_tree_every_folder_and_message(corpus, account, mm, tmp_path):
    source = corpus / "mh" / "mailimporter-sylpheed" / "Mail"
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    counts = {r["folder"]: r["messages"] for r in plan["folders"]}
    assert counts == {"inbox": 6, "inbox/kmail-devel": 11, "inbox/kmail-devel/bugs": 11,
                      "trash": 6, "Mailinglists": 0, "Mailinglists/hal": 8,
                      "Mailinglists/hal/commit": 7, "draft": 0, "queue": 0, "sent": 0}
    assert plan["unread"] == [] and {r["store_type"] for r in plan["folders"]} == {"mh"}
    boxes = moved(source, account, mm, tmp_path)
    assert sum(len(m) for m in boxes.values()) == 49
    # .sylpheed_mark lists every message with flags 0: all read, none flagged
    assert all(m.keyflags == {"\\Seen"} for msgs in boxes.values() for m in msgs)


def _mh_folder(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (root / str(i)).write_bytes(message(f"mh {i}"))


def test_mh_sequences_and_claws_marks_become_flags(account, mm, tmp_path):
    import struct
    src = tmp_path / "Mail"
    _mh_folder(src / "nmh", 5)
    (src / "nmh" / ".mh_sequences").write_text("cur: 5\nunseen: 1-2 4\nflagged: 2\n"
                                                "replied: 3\n")
    (src / "nmh" / ",6").write_bytes(message("removed by rmm"))
    _mh_folder(src / "claws", 7)
    marks = [(1, 0), (2, 1 | 2), (3, 4), (4, 16), (5, 32), (6, 8)]  # 7 not listed: new
    (src / "claws" / ".claws_mark").write_bytes(
        struct.pack("<I", 2) + b"".join(struct.pack("<II", n, f) for n, f in marks))
    (src / "claws" / ".claws_cache").write_bytes(b"\x00cache")
    (src / "sylpheed").mkdir()
    (src / "sylpheed" / ".sylpheed_mark").write_bytes(b"\x02\x00\x00\x00\x01")  # torn
    _mh_folder(src / "sylpheed", 1)
    code, plan, out = plan_json(mm, tmp_path, src)
    assert code == 0, out
    assert plan["summary"]["counts"]["skip"] == 1  # claws 6: deleted, waiting for expunge
    assert any("removed in MH" in item["kind"] for item in plan["non_mail"])
    boxes = moved(src, account, mm, tmp_path)
    flags = {name: [m.keyflags for m in sorted(msgs, key=subject_number)]
             for name, msgs in boxes.items() if msgs}
    S, F, A = "\\Seen", "\\Flagged", "\\Answered"
    assert flags["nmh"] == [set(), {F}, {S, A}, set(), {S}]
    assert flags["claws"] == [{S}, set(), {S, F}, {S, A}, {S, "$Forwarded"}, set()]
    assert flags["sylpheed"] == [{S}]  # the mark file is torn: no sequences, so read


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


def test_partial_emlx_rebuilt_as_the_reference_converter_does(corpus, account, mm, tmp_path):
    source = corpus / "emlx" / "partial-emlx-converter" / "input"
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0 and plan["unread"] == [], out  # every Attachments file is read
    (row,) = plan["folders"]
    assert row["messages"] == 10 and row["skip"] == 3  # 136153, 207046, 229417: cut short
    assert row["reasons"] == {"unreadable": 3}
    assert row["noted"]["attachments-missing"] == 2  # 114893, 114895: no Attachments/
    assert "2 x attachments Apple Mail had not downloaded" in out
    boxes = moved(source, account, mm, tmp_path, code=1)
    (inbox,) = [msgs for msgs in boxes.values() if msgs]
    assert len(inbox) == 7
    expected = corpus / "emlx" / "partial-emlx-converter" / "expected_results"
    for name in ("114862", "114892"):
        want = _leaves((expected / f"{name}.eml").read_bytes())
        assert any(_leaves(m.data) == want for m in inbox), name  # every part, byte for byte
    # only the two whose attachments are not on the disk keep Mail's stubs
    assert sum(b"X-Apple-Content-Length" in m.data for m in inbox) == 2


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


def test_apple_mail_v10_tree_with_flags_nesting_and_old_versions(account, mm, tmp_path):
    mail = tmp_path / "Library" / "Mail"
    account_dir = mail / "V10" / "0C9A3E1B-4F5D-4E39-9D0A-7E1B2C3D4E5F"
    inbox = account_dir / "INBOX.mbox" / "6F1D" / "Data" / "3" / "Messages"
    inbox.mkdir(parents=True)
    bits = [0x1, 0x0, 0x1 | 0x4, 0x1 | 0x10, 0x1 | 0x40, 0x1 | 0x100, 0x1 | 0x2]
    for i, flag in enumerate(bits, 1):
        (inbox / f"{i}.emlx").write_bytes(emlx(message(f"apple {i}"), flag, 1262304000 + i))
    nested = account_dir / "Projects.mbox" / "2021.mbox" / "Messages"
    nested.mkdir(parents=True)
    (nested / "20.emlx").write_bytes(emlx(message("apple 20", date="Sat, 01 May 2021 "
                                                  "10:00:00 +0000"), 0x1))
    (account_dir / "Empty.mbox").mkdir()
    (account_dir / "INBOX.mbox" / "Info.plist").write_bytes(b"<plist/>")
    (mail / "V10" / "MailData").mkdir()
    (mail / "V10" / "MailData" / "Envelope Index").write_bytes(b"SQLite format 3\0")
    (mail / "V10" / "MailData" / "Envelope Index-wal").write_bytes(b"")
    old = mail / "V2" / "POP-ann@pop.example.org" / "INBOX.mbox" / "Messages"
    old.mkdir(parents=True)
    (old / "1.emlx").write_bytes(emlx(message("apple 1"), 0x1))
    code, plan, out = plan_json(mm, tmp_path, mail)
    assert code == 0, out
    assert {r["folder"]: r["messages"] for r in plan["folders"]} == {
        "INBOX": 7, "Projects": 0, "Projects/2021": 1, "Empty": 0}
    assert plan["unread"] == []
    assert any("older Apple Mail store" in n["kind"] and n["path"].endswith("V2")
               for n in plan["non_mail"])
    assert plan["summary"]["counts"]["skip"] == 1  # deleted in Mail, not yet erased
    boxes = moved(mail, account, mm, tmp_path)
    S = "\\Seen"
    got = [m.keyflags for m in sorted(boxes["INBOX"], key=subject_number)]
    assert got == [{S}, set(), {S, "\\Answered"}, {S, "\\Flagged"}, {S, "\\Draft"},
                   {S, "$Forwarded"}]
    assert {m.internaldate.timestamp() for m in boxes["INBOX"]} == {
        1262304000.0 + i for i in range(1, 7)}  # the date Mail received it
    assert len(boxes["Projects/2021"]) == 1 and "Empty" in boxes and "Projects" in boxes


# -- Gmail Takeout: labels become folders, each message sent once ----------------------

TAKEOUT = "All mail Including Spam and Trash.mbox"


def test_takeout_labels_become_folders_sent_once(corpus, account, mm, tmp_path):
    source = corpus / "takeout" / "suitenumerique-transfers" / TAKEOUT
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    assert {r["folder"]: r["messages"] for r in plan["folders"]} == {
        "INBOX": 8, "Sent": 1, "Drafts": 1, "Trash": 3, "Conseil municipal": 3,
        "Petite enfance/Cantine": 1, "Petite enfance/Centre loisir": 3,
        "Petite enfance/École": 2}
    boxes = moved(source, account, mm, tmp_path)
    summary = json.loads((tmp_path / "state.run.json").read_text())
    distinct = {m.data for msgs in boxes.values() for m in msgs}
    assert len(distinct) == 14  # the 14 messages of the export, none lost
    assert summary["copied"] == 22 - 14  # sent once, copied on the server to other labels
    inbox = boxes["INBOX"]
    unread = [m for m in inbox if "\\Seen" not in m.keyflags]
    assert len(unread) == sum(b"Unread" in _labels_line(m.data) for m in inbox) > 0
    starred = [m for msgs in boxes.values() for m in msgs if "\\Flagged" in m.keyflags]
    assert starred and all(b"Starred" in _labels_line(m.data) for m in starred)
    assert all("\\Draft" in m.keyflags for m in boxes["Drafts"])
    assert all(b"Trash" in _labels_line(m.data) for m in boxes["Trash"])


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


def test_takeout_label_rules(tmp_path):
    from migrate.sources.takeout import labels_of, places_and_marks
    from tests.builders import write_mbox
    labelled = [
        ("Inbox,Unread,Category Promotions", [("INBOX",)], set(), {"$Promotions"}),
        ('"Bills, 2020",Opened,Important', [("Bills, 2020",)], {"\\Seen"}, {"$Important"}),
        ("Spam,Inbox,Unread", [("Spam",)], set(), set()),
        ("Archived,Opened,Starred", [("Archive",)], {"\\Seen", "\\Flagged"}, set()),
        ("=?UTF-8?Q?Bo=C3=AEte_de_r=C3=A9ception,Ouvert,F?=\n =?UTF-8?Q?avoris,A/B?=",
         [("INBOX",), ("A", "B")], {"\\Seen", "\\Flagged"}, set()),
        (None, [("Archive",)], {"\\Seen"}, set()),
    ]
    for value, places, flags, keywords in labelled:
        extra = f"X-Gmail-Labels: {value}\n" if value else ""
        data = message("t", extra=extra)
        got = places_and_marks(labels_of(data))
        assert got == (places, frozenset(flags), frozenset(keywords)), (value, got)
    write_mbox(tmp_path / "x.mbox", [message("a", extra="X-GM-THRID: 1\nX-Gmail-Labels: "
                                             "Inbox,Work\n")])
    store = open_store(tmp_path / "x.mbox")
    assert store.kind == "takeout"
    assert [f.name for f in store.folders()] == [("INBOX",), ("Work",)]


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


def test_dbx_byte_literal_file_read_with_flags_and_long_text(tmp_path):
    from migrate.sources.dbx_format import dbx_messages, message_text
    long = message("long", body="x" * 1500 + "\r\n")
    data = make_dbx([(message("read"), 0x81), (long, 0x01), (message("flag"), 0xA1),
                     (message("gone"), 0xC1)])
    assert data[0xC4:0xC8] == b"\x04\x00\x00\x00"
    items = dbx_messages(data)
    assert [message_text(data, i.number(4)) for _, i in items][:2] == [message("read"), long]
    (tmp_path / "Inbox.dbx").write_bytes(data)
    store = open_store(tmp_path)
    assert store.kind == "outlook-express"
    (folder,) = store.folders()
    msgs = list(folder.messages())
    assert [sorted(m.flags) for m in msgs] == [["\\Seen"], [], ["\\Flagged", "\\Seen"],
                                               ["\\Seen"]]
    assert [m.skip_reason for m in msgs] == [None, None, None, "deleted"]
    assert msgs[0].internaldate.year == 2016  # FILETIME 131e15 x 100 ns after 1601


def test_damaged_dbx_names_what_it_cannot_read(tmp_path):
    import struct
    good = make_dbx([(message("one"), 0x81), (message("two"), 0x81)])
    root = tmp_path / "store"
    root.mkdir()
    (root / "Inbox.dbx").write_bytes(good[:0x24BC + 8])  # cut inside the index
    broken = bytearray(good)
    first_block = 0x24BC + 0x18 + 24
    struct.pack_into("<I", broken, first_block, 7)  # message one's block lost its marker
    (root / "Sent.dbx").write_bytes(bytes(broken))
    (root / "Drafts.mbx").write_bytes(b"JMF6" + b"\0" * 0x50 + b"garbage!" * 4)
    store = open_store(root)
    got = {f.name: [(m.skip_reason, m.notes) for m in f.messages()] for f in store.folders()}
    assert got[("Inbox",)][0][0] == "unreadable" and "index is damaged" in got[("Inbox",)][0][1][0]
    assert [r for r, _ in got[("Sent",)]] == ["unreadable", None]  # one lost, one read
    assert got[("Drafts",)][0][0] == "unreadable"


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


def test_outlook_express_6_store_on_dovecot(corpus, account, mm, tmp_path):
    source = corpus / "dbx" / "mailimporter" / "oe6"
    boxes = moved(source, account, mm, tmp_path)
    counts = {name: len(msgs) for name, msgs in boxes.items()}
    assert counts["INBOX"] == 1 and counts["INBOX/KDE"] == 5 and counts["INBOX/KDE/kmail"] == 5
    assert counts["Mailinglists/hal/hal-commit"] == 4 and counts["Mailinglists"] == 0
    assert sum(counts.values()) == 31
    assert all("\\Seen" in m.keyflags for msgs in boxes.values() for m in msgs)
    for special in ("Sent", "Trash", "Drafts", "Postausgang"):  # listed, never written
        assert special in boxes, special


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 0x2700), st.integers(0, 255)), max_size=12),
       st.integers(0x2400, 0x2800))
def test_any_damage_to_a_dbx_or_mbx_is_named_never_raised(tmp_path_factory, flips, cut):
    import struct
    root = tmp_path_factory.mktemp("oe")
    good = bytearray(make_dbx([(message("one"), 0x81), (message("two", body="y" * 700), 0)]))
    mbx = bytearray(b"JMF6" + b"\0" * 0x50)
    for n, text in enumerate([message("a"), message("b")], 1):
        mbx += struct.pack("<4I", 0x7F007F00, n, 16 + len(text), len(text)) + text
    for data, name in ((good, "a.dbx"), (mbx, "b.mbx")):
        for at, value in flips:
            if at < len(data):
                data[at] = value
        (root / name).write_bytes(bytes(data[:cut]))
    store = open_store(root, "outlook-express")  # a damaged magic: named by the plan
    for folder in store.folders():
        for msg in folder.messages():
            assert msg.skip_reason in (None, "unreadable", "deleted") and msg.key


# -- Outlook for Mac .olm: messages rebuilt from XML ------------------------------------

OLM = "olm/OLMReader/outlook_example.olm"


def test_olm_rebuilt_the_same_at_every_read_with_every_attachment(corpus):
    import email
    import zipfile
    path = corpus / "olm" / "aspose-email-net" / "SampleOLM.olm"
    first = {m.key: m.data for f in open_store(path).folders() for m in f.messages()}
    again = {m.key: m.data for f in open_store(path).folders() for m in f.messages()}
    assert first == again and len(first) == 22  # the plan's hash holds at upload
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist() if "__Attachments/" in n and
                   not n.endswith("/")}
    carried = set()
    for data in first.values():
        for part in email.message_from_bytes(data).walk():
            if not part.is_multipart() and part.get_filename():
                carried.add(part.get_payload(decode=True))
    for name, content in members.items():  # attached mail is carried byte for byte
        assert content in carried or any(content.rstrip(b"\r\n") in d
                                         for d in first.values()), name


def test_olm_on_dovecot_with_flags_and_categories(corpus, account, mm, tmp_path):
    source = corpus / OLM
    code, plan, out = plan_json(mm, tmp_path, source)
    assert code == 0, out
    kinds = {n["kind"] for n in plan["non_mail"]}
    assert {"contacts", "calendar items", "tasks", "notes"} <= kinds
    boxes = moved(source, account, mm, tmp_path)
    msgs = [m for box in boxes.values() for m in box]
    assert len(msgs) == 7
    assert sum("\\Seen" in m.keyflags for m in msgs) == 5  # 5 read, 2 unread (PROVENANCE)
    assert sum("\\Flagged" in m.keyflags for m in msgs) == 1
    assert any(any("Blue" in f for f in m.keyflags) for m in msgs)  # a category: a keyword
    assert len(boxes["Outlook PST/Drafts"]) == 3 and len(boxes["Drafts"]) == 2
    assert "Outlook PST/RSS Feeds/Reuters: Company News" in boxes  # empty, still there


def test_crafted_olm_archives_are_refused_by_name(tmp_path):
    import zipfile
    path = tmp_path / "bad.olm"
    base = "Local/com.microsoft.__Messages/Inbox/"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(base + "message_00000.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]>'
                                               "<emails><email>&a;</email></emails>")
        z.writestr(base + "message_00001.xml", b"\0" * (3 << 20))  # packs ~1000x
        z.writestr(base + "message_00002.xml", "<emails><email><OPFMessageCopySubject>"
                                               "fine</OPFMessageCopySubject></email></emails>")
        z.writestr(base + "message_00003.xml", "<emails><email>")  # cut short
        z.writestr("../../etc/evil.xml", "<x/>")
    store = open_store(path)
    (folder,) = store.folders()
    got = {m.key.split("/")[-1]: (m.skip_reason, m.notes) for m in folder.messages()}
    assert "DTD" in got["message_00000.xml"][1][0]
    assert "refused" in got["message_00001.xml"][1][0]
    assert got["message_00002.xml#0"][0] is None
    assert "not well-formed" in got["message_00003.xml"][1][0]
    assert any("unknown part" in n.kind for n in store.non_mail)
    (tmp_path / "broken.olm").write_bytes(b"PK\x03\x04 not really a zip")
    assert open_store(tmp_path / "broken.olm", "olm").folders() == []


# -- Outlook .msg files: MAPI properties rebuilt as MIME (the .pst code) ----------------

def test_compressed_rtf_example_of_the_specification():
    from migrate.sources.rtf_lzfu import decompress
    data = bytes.fromhex("2d0000002b0000004c5a4675f1c5c7a703000a007263706731323542320af3"
                         "2068656c090020627705b06c647d0a800fa0")  # MS-OXRTFCP 3.1.1
    assert decompress(data) == b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"


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


def test_msg_folder_on_dovecot(corpus, account, mm, tmp_path):
    pytest.importorskip("olefile")
    source = corpus / "msg" / "msgreader"
    boxes = moved(source, account, mm, tmp_path)
    assert sum(len(m) for m in boxes.values()) == 10


def test_without_olefile_the_message_says_what_to_do(tmp_path, corpus):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "olefile.py").write_text("raise ImportError('pretend it is not installed')\n")
    done = subprocess.run([sys.executable, "-m", "migrate", "plan", str(corpus / "msg" / "iped")],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(blocker)))
    assert done.returncode == 2, done.stderr
    assert "pip install 'mailmigrate[msg]'" in done.stderr and "Traceback" not in done.stderr


# -- Windows Live Mail: EML folders, state in a database this tool names -------------

def test_windows_live_mail_tree(account, mm, tmp_path):
    root = tmp_path / "Windows Live Mail"
    acct = root / "pop.example.org (account1)"
    for folder, n in (("Inbox", 3), ("Sent Items", 1)):
        (acct / folder).mkdir(parents=True)
        for i in range(n):
            (acct / folder / f"{{6C2A0B{i:02d}-0000}}.eml").write_bytes(
                message(f"wlm {folder} {i}").replace(b"\n", b"\r\n"))
    (acct / "account{5E4B}.oeaccount").write_bytes(b"<?xml version='1.0'?><MessageAccount/>")
    (root / "Storage Folders" / "Drafts").mkdir(parents=True)
    (root / "Storage Folders" / "Drafts" / "d.eml").write_bytes(message("draft"))
    for name in ("Mail.MSMessageStore", "edb.chk", "edb00001.log", "edbres00001.jrs"):
        (root / name).write_bytes(b"\xef\xcd\xab\x89 ESE")
    code, plan, out = plan_json(mm, tmp_path, root)
    assert code == 0, out
    assert {r["folder"]: r["messages"] for r in plan["folders"]} == {
        "Inbox": 3, "Sent Items": 1, "Drafts": 1}
    assert {r["store_type"] for r in plan["folders"]} == {"windows-live-mail"}
    assert plan["unread"] == []
    assert "moves unread and unflagged: Windows Live Mail keeps" in out
    boxes = moved(root, account, mm, tmp_path)
    assert len(boxes["INBOX"]) == 3 and len(boxes["Sent"]) == 1 and len(boxes["Drafts"]) == 1


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


def test_damaged_msg_and_takeout_files_are_named(tmp_path):
    pytest.importorskip("olefile")
    (tmp_path / "msgs").mkdir()
    (tmp_path / "msgs" / "cut.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" +
                                                b"\0" * 100)
    store = open_store(tmp_path / "msgs")
    (msg,) = [m for f in store.folders() for m in f.messages()]
    assert msg.skip_reason == "unreadable" and "not a readable .msg file" in msg.notes[0]
    write_mbox(tmp_path / "t.mbox", [message("bad labels", extra="X-GM-THRID: 1\n"
                                             "X-Gmail-Labels: =?x-unknown?Q?Inbox=ZZ?=,Work\n")])
    store = open_store(tmp_path / "t.mbox")
    assert store.kind == "takeout"
    names = [f.name for f in store.folders()]
    assert ("Work",) in names and len(names) == 2  # the broken word kept as text: a folder


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.text(max_size=200))
def test_the_new_parsers_take_any_bytes_without_raising(data, text):
    """The I/O-free parsers of the new readers: any input is a value or their own
    error (which the readers turn into a named, unreadable message)."""
    from migrate.sources import emlx as emlx_format
    from migrate.sources.mh import parse_marks, parse_sequences
    from migrate.sources.takeout import labels_of, places_and_marks
    places_and_marks(labels_of(b"X-Gmail-Labels: " + text.encode("utf-8", "replace") +
                               b"\n\n"))
    places_and_marks(labels_of(b"X-Gmail-Labels: " + data + b"\n\n"))
    parse_sequences(text)
    parse_marks(data)
    try:
        parsed = emlx_format.Emlx.parse(data)
        parsed.flags(), parsed.received(), parsed.deleted
    except emlx_format.EmlxError:
        pass
    message_bytes = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" + data + b"\n--b--\n"
    emlx_format.detached_parts(message_bytes)


def test_a_hostile_unread_file_name_is_escaped_in_every_report(mm, tmp_path):
    root = tmp_path / "src"
    _eml_tree(root)
    odd = root / "<script>alert(1)<\x1b[2J.dbx"
    odd.write_bytes(b"\x00binary")
    code, plan, out = plan_json(mm, tmp_path, root)
    assert code == 1 and "\x1b" not in out  # the terminal: made safe
    page = (tmp_path / "rep" / "plan.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
