"""Outlook .pst files read directly (libpff-python), checked on the real corpus and Dovecot."""

from __future__ import annotations

import collections
import email
import email.policy
import email.utils
import hashlib
import os
from pathlib import Path

import pytest

from tests.support.builders import snapshot

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


@pytest.mark.parametrize("name", MAIL_PSTS)
def test_every_mail_item_lands_once_with_its_attachments(corpus, account, mm, tmp_path, name):
    source = tmp_path / "in" / Path(name).name
    source.parent.mkdir()
    source.write_bytes((corpus / "pst" / name).read_bytes())
    before = snapshot(source.parent)
    mail, _ = independent_items(source)
    args = ["run", source, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
            tmp_path / "state.sqlite", "--yes"]
    r = mm(*args, account=account)
    assert r.code == 0, r.out + r.err
    server = [m for box in account.read_back().values() for m in box]
    assert len(server) == len(mail)
    by_hashes = collections.Counter(tuple(parts_of(m.data)[1]) for m in server)
    assert by_hashes == collections.Counter(tuple(attachment_hashes(i)) for i in mail)
    for item, message in zip(sorted(mail, key=lambda i: i.subject or ""),
                             sorted(server, key=lambda m: parts_of(m.data)[0]["subject"] or "")):
        parsed, _, embedded = parts_of(message.data)
        assert (parsed["subject"] or "") == (item.subject or "")
        n_embedded = sum(1 for i in range(item.number_of_attachments)
                         if item.get_attachment(i).read_buffer(4)[2:4] == b"\xec\xbc")
        assert len(embedded) == n_embedded
        for part in embedded:
            inner = part.get_content()
            assert inner["subject"] and inner["message-id"] and inner["date"]
        for line in message.data.split(b"\r\n"):
            assert len(line) <= 998
    again = mm(*args, account=account)
    assert again.code == 0 and "moved now:              0" in again.out, again.out
    assert len([m for box in account.read_back().values() for m in box]) == len(mail)
    assert snapshot(source.parent) == before  # the .pst is only read
    import tarfile
    archive = next((tmp_path / "bk").glob("mailmigrate-backup-*.tar"))
    with tarfile.open(archive) as tar:
        assert any(n.endswith(source.name) for n in tar.getnames())


def test_mapi_details_on_the_server(corpus, account, mm, tmp_path):
    """Flags from MAPI, 200 recipients folded, French root folder, Japanese folders."""
    for name in ("ruby-msg/200 recipients.pst", "pstsdk/sample1.pst", "aleph/testPST.pst"):
        r = mm("run", corpus / "pst" / name, *account.cli_args(), "--backup-dir",
               tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
               account=account)
        assert r.code == 0, r.err
    boxes = account.read_back()
    inbox = boxes["INBOX"]  # messages at the data file's top go to INBOX
    draft = next(m for m in inbox if b"Subject: 200 recipients" in m.data)
    parsed = email.message_from_bytes(draft.data, policy=email.policy.default)
    assert len(parsed["to"].addresses) == 200
    assert "\\Draft" in draft.keyflags  # an unsent item
    sample = next(m for box in boxes.values() for m in box if b"Here is a sample" in m.data)
    assert "\\Seen" in sample.keyflags
    assert "Sample1" in boxes
    assert len(inbox) == 1 + 6
    french = [m for m in inbox if b"Received:" in m.data.split(b"\r\n\r\n")[0]]
    assert len(french) == 6  # the French file's messages, with their transport headers
    # the empty French "Éléments supprimés" is the special folder \Trash: no look-alike is made
    assert "Éléments supprimés" not in boxes and boxes["Trash"] == []


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


