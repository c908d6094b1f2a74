"""Outlook .pst files read directly (libpff-python), checked on the real corpus and Dovecot."""

from __future__ import annotations

import collections
import email
import email.policy
import email.utils
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.errors import ExitCode
from migrate.sources import open_store
from tests.conftest import skip_or_fail

try:
    import pypff  # the [pst] extra
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("CI: reading .pst needs the [pst] extra (libpff-python), which did not "
                    "install", pytrace=False)
    pytest.skip("reading .pst needs the [pst] extra (libpff-python); scripts/test.sh installs "
                "it", allow_module_level=True)

MAIL_PSTS = ["aleph/testPST.pst", "pstsdk/sample1.pst", "pstsdk/sample2.pst",
             "pstsdk/submessage.pst", "pstsdk/test_ansi.pst", "pstsdk/test_unicode.pst",
             "ruby-msg/200 recipients.pst", "ruby-msg/attachAndInline.pst",
             "ruby-msg/msgInMsg.pst", "pst-extractor/alpha-beta-gamma-delta.pst"]
OTHER_PSTS = ["go-pst/32-bit.pst", "java-libpst/dist-list.pst", "java-libpst/passworded.pst",
              "pst-extractor/contacts.pst", "pst-extractor/contacts97-2002.pst",
              "outlook-pst-rs/Empty.pst"]
NOT_MAIL = ("IPM.Appointment", "IPM.Contact", "IPM.Task", "IPM.StickyNote", "IPM.DistList",
            "IPM.Activity")


def message_class(item) -> str:
    rs = item.get_record_set(0)
    for i in range(rs.number_of_entries):
        entry = rs.get_entry(i)
        if entry.entry_type == 0x001A:
            return entry.get_data_as_string()
    return "IPM.Note"


def independent_items(path: Path) -> tuple[list, collections.Counter]:
    """Walk the whole PST with pypff: (mail items, not-mail classes), outside search folders."""
    f = pypff.file()
    f.open(str(path))
    mail, other = [], collections.Counter()
    root = f.get_root_folder()
    stack = [root.get_sub_folder(i) for i in range(root.number_of_sub_folders)]
    while stack:
        folder = stack.pop()
        if folder.name and ("Search" in folder.name or folder.name in ("IPM_COMMON_VIEWS",
                                                                       "ItemProcSearch")):
            continue
        for i in range(folder.number_of_sub_messages):
            item = folder.get_sub_message(i)
            cls = message_class(item)
            if cls.startswith("IPM.Microsoft."):
                continue  # Outlook's own data (free/busy), outside the folders users see
            if cls.startswith(NOT_MAIL):
                other[cls.split(".")[1]] += 1
            else:
                mail.append(item)
        stack.extend(folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders))
    return mail, other


def attachment_hashes(item) -> list[str]:
    """SHA-256 of each by-value attachment as pypff reads it."""
    out = []
    for i in range(item.number_of_attachments):
        a = item.get_attachment(i)
        data = a.read_buffer(a.get_size())
        if data[2:4] != b"\xec\xbc":  # embedded messages are compared separately
            out.append(hashlib.sha256(data).hexdigest())
    return sorted(out)


def parts_of(data: bytes):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    leaves, embedded = [], []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            embedded.append(part)
        elif part.get_filename() and not part.is_multipart() and \
                part.get_content_subtype() != "rtf":  # readpst adds the RTF body as a file
            leaves.append(hashlib.sha256(part.get_payload(decode=True)).hexdigest())
    return msg, sorted(leaves), embedded


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


def _addr(header) -> str | None:
    if header is None:
        return None
    addresses = header.addresses
    return addresses[0].addr_spec.lower() if addresses else None


def split_mbox_file(path: Path) -> list[bytes]:
    from migrate.sources.mbox import split_mbox
    with open(path, "rb") as fh:
        return [data for _, _, data in split_mbox(fh)]


def shutil_which(name: str):
    import shutil
    return shutil.which(name)


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


