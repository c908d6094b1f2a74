"""What the tests of test_every_store share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st

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


# Random trees: every file under a source is read, known, or named.
_names = st.sampled_from(["Inbox", "a.eml", "b", "notes.txt", ".DS_Store", "x.msf",
                          "cur", "new", "tmp", "Sent.sbd", ".hidden", "c.mbox", "d.emlx",
                          "Info.plist", "1", "2", "blob", ".mh_sequences", ".x.directory",
                          "Messages", "Folders.dbx", "e.msg", "f.olm", ",3",
                          "Mail.MSMessageStore", "g.partial.emlx"])


_contents = st.sampled_from([message("m"), b"From a@b Sat Jan  1 00:00:00 2000\n" +
                             message("mb"), b"", b"\x00\x01binary", b"plain words\n"])


def _mh_folder(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (root / str(i)).write_bytes(message(f"mh {i}"))


def subject_number(m) -> int:
    import re
    return int(re.search(rb"Subject: \S+ (\d+)", m.data).group(1))


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


TAKEOUT = "All mail Including Spam and Trash.mbox"


def _labels_line(data: bytes) -> bytes:
    from migrate.sources.takeout import labels_of
    return ",".join(labels_of(data)).encode()


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


OLM = "olm/OLMReader/outlook_example.olm"
