"""Every store a POP user has, read whole, and every file under a source accounted for: the
server tests (tests/unit/test_every_store.py has the rest, and says what they prove)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.builders import message
from tests.support.every_store_shared import (
    OLM,
    TAKEOUT,
    _eml_tree,
    _labels_line,
    _leaves,
    _mh_folder,
    emlx,
    moved,
    plan_json,
    subject_number,
)

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


# -- nothing unaccounted ---------------------------------------------------------------


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


# -- Apple Mail: .emlx, .partial.emlx with Attachments/, V2..V10 trees -----------------


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


# -- Outlook Express: .dbx (OE5/6), .mbx (OE4), Folders.dbx ----------------------------


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


# -- Outlook for Mac .olm: messages rebuilt from XML ------------------------------------


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


# -- Outlook .msg files: MAPI properties rebuilt as MIME (the .pst code) ----------------


def test_msg_folder_on_dovecot(corpus, account, mm, tmp_path):
    pytest.importorskip("olefile")
    source = corpus / "msg" / "msgreader"
    boxes = moved(source, account, mm, tmp_path)
    assert sum(len(m) for m in boxes.values()) == 10


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


