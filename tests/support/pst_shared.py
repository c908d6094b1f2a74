"""What the tests of test_pst share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import collections
import email
import email.policy
import email.utils
import hashlib
import os
from pathlib import Path

import pytest

try:
    import pypff
except ImportError:  # the tests that use these skip first (or fail, in CI)
    pypff = None


def need_the_pst_extra() -> None:
    """At the top of a .pst test module: without the [pst] extra its tests skip and say
    why; in CI they fail instead (scripts/test.sh installs it)."""
    if pypff is not None:
        return
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
