"""Every store a POP user has, read whole, and every file under a source accounted for.

Real samples from ../shared/corpus (PROVENANCE.md gives their counts and flags), the
rest built here; plan -> run -> verify on a real Dovecot for each kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.sources import open_store
from migrate.sources.accounting import unread_files
from tests.support.builders import message, write_mbox
from tests.support.every_store_shared import _contents, _names, make_dbx

# -- KMail: subfolders in .Name.directory/, mbox files beside maildirs ---------------


# -- nothing unaccounted ---------------------------------------------------------------


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


# -- Apple Mail: .emlx, .partial.emlx with Attachments/, V2..V10 trees -----------------


# -- Gmail Takeout: labels become folders, each message sent once ----------------------


def test_takeout_label_rules(tmp_path):
    from migrate.sources.takeout import labels_of, places_and_marks
    from tests.support.builders import write_mbox
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


# -- discover: each store where its client keeps it, named by its person ----------------


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


