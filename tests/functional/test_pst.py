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

from migrate.sources import open_store

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


@pytest.mark.parametrize("name", MAIL_PSTS + OTHER_PSTS)
def test_plan_counts_every_item_of_every_corpus_pst(corpus, mm, tmp_path, name):
    path = corpus / "pst" / name
    mail, other = independent_items(path)
    r = mm("plan", path, "--report", tmp_path / "rep")
    assert r.code == 0, r.err
    import json
    plan = json.loads((tmp_path / "rep" / "plan.json").read_text())
    assert plan["summary"]["messages"] == len(mail)
    assert plan["summary"]["upload_messages"] == len(mail)
    kinds = collections.Counter(item["kind"].split("(IPM.")[1].rstrip(")").split(".")[0]
                                for item in plan["non_mail"])
    assert kinds == other, (kinds, other)
    for cls in other:
        assert f"(IPM.{cls}" in r.out  # listed in the terminal too


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


def test_codepage_guess_and_option(corpus, mm):
    unicode_names = {f.display_name for f in open_store(
        corpus / "pst" / "pst-extractor" / "contacts.pst").folders()}
    guessed = open_store(corpus / "pst" / "pst-extractor" / "contacts97-2002.pst")
    assert "連絡先 (Contact dedicated)" in {f.display_name for f in guessed.folders()}
    assert guessed.codepage == "cp932" and guessed.codepage_guessed
    assert {f.display_name for f in guessed.folders()} <= unicode_names
    forced = open_store(corpus / "pst" / "pst-extractor" / "contacts97-2002.pst",
                        pst_codepage="cp1252")
    assert "連絡先 (Contact dedicated)" not in {f.display_name for f in forced.folders()}
    r = mm("plan", corpus / "pst" / "pst-extractor" / "contacts97-2002.pst",
           "--pst-codepage", "cp932")
    assert r.code == 0 and "連絡先" in r.out, r.err


def test_password_protected_pst_opens(corpus, mm):
    r = mm("plan", corpus / "pst" / "java-libpst" / "passworded.pst")
    assert r.code == 0, r.err
    assert "Not mail" in r.out and "IPM.Contact" in r.out


def test_non_mail_items_exported_as_vcard_and_icalendar(corpus, mm, tmp_path):
    out = tmp_path / "export"
    for name in ("java-libpst/dist-list.pst", "go-pst/32-bit.pst", "pst-extractor/contacts.pst",
                 "pst-extractor/contacts97-2002.pst"):
        r = mm("plan", corpus / "pst" / name, "--export-non-mail", out)
        assert r.code == 0 and "exported 1 x" in r.out, r.err
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(files) == 6
    for data in files.values():
        assert data.endswith(b"\r\n") and all(len(line) <= 75 for line in data.split(b"\r\n"))
    event = next(v for k, v in files.items() if k.startswith("dist-list/Calendar/")).decode()
    assert "SUMMARY:Test appointment" in event and "DTSTART:20160802T150000Z" in event
    ansi_event = next(v for k, v in files.items() if k.startswith("32-bit/")).decode()
    assert "SUMMARY:Updated: Olympus training for new hires" in ansi_event
    contacts = [v.decode() for k, v in files.items() if k.endswith(".vcf")]
    assert any("EMAIL;TYPE=INTERNET:contact1@rjohnson.id.au" in c for c in contacts)
    assert any("X-ADDRESSBOOKSERVER-KIND:group" in c for c in contacts)
    japanese = [c for c in contacts if "test@example.com" in c]
    assert len(japanese) == 2 and japanese[0] == japanese[1]  # ANSI cp932 == Unicode file
    assert "FN:Mr. イグザンプル ドット コム 殿" in japanese[0]
