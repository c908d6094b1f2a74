"""Outlook .pst files read directly (libpff-python), checked on the real corpus and Dovecot."""

from __future__ import annotations

import collections

import pytest

from migrate.sources import open_store
from tests.support.pst_shared import MAIL_PSTS, OTHER_PSTS, independent_items, need_the_pst_extra

need_the_pst_extra()


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
