"""The pages a client reads and keeps, as a browser draws and prints them.

A person with many folders and many messages left behind still gets one or two A4
pages (the largest folders and the first messages named, the rest counted), in
their language; no page is wider than 1280 px and no name or number is broken
across lines.
"""

from __future__ import annotations

import pytest

from migrate.report_person import render_person_page
from tests.support.browser import layout, print_pdf

pytestmark = pytest.mark.functional  # Chromium draws and prints the pages


def crowded_summary(language: str) -> dict:
    """A POP user's ten years: 80 folders, 400 deleted-but-kept messages, 3 refused."""
    folders = [{"folder": f"Archiv/{2010 + i // 8}/Projekt Nummer {i}", "target": f"A{i}",
                "messages": 50 + i, "bytes": 1_000_000 * i, "uploaded": 50 + i - (i % 5),
                "done": 0, "present": 0} for i in range(80)]
    left = [{"folder": "(root)", "mailbox": "INBOX", "source": f"Inbox at byte {i}",
             "action": "skip", "reason": "deleted", "subject": f"Angebot Nummer {i}",
             "date": "Tue, 3 Mar 2015 10:04:05 +0100",
             "from": "Beispiel GmbH <info@beispiel.example>"} for i in range(400)]
    return {"language": language, "finished": "2026-12-07T06:12:00+01:00",
            "who": {"name": "Dr. Anna Müller-Lüdenscheidt", "account": "anna@acme.example "
                    "at imap.acme.example", "sources": [
                        "C:\\Users\\anna\\AppData\\Roaming\\Thunderbird\\Profiles\\"
                        "k3x9q2ab.default-release"]},
            "totals": {"uploaded": 4500, "done": 300, "present": 12, "skip": 400,
                       "refuse": 3},
            "not_moving": [{"action": "skip", "reason": "deleted in the mail client but not "
                            "yet compacted", "messages": 400},
                           {"action": "refuse", "reason": "larger than the server takes "
                            "(35 MB, the limit is 25 MB)", "messages": 3}],
            "not_uploaded": left[:200], "not_uploaded_count": 403, "folders": folders,
            "missing": 0, "backup": {"archive": "D:\\mm\\anna\\backup\\mailmigrate-backup-"
                                                "20261206-2301.tar"}}


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_printable_page_is_one_or_two_a4_pages_in_the_clients_language(tmp_path,
                                                                            language):
    page = tmp_path / f"client-{language}.html"
    page.write_text(render_person_page(crowded_summary(language)), encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    assert ("Ihr E-Mail-Umzug" in html) == (language == "de")
    assert "Angebot Nummer 0" in html and "Inbox at byte" not in html  # as the client knows it
    assert "+ 62" in html  # the 18 largest folders named, the rest in one line
    assert "(root)" not in html and "INBOX: " in html  # as the new account names them
    assert "mailmigrate-backup-20261206-2301.tar" in html
    pdf, pages = print_pdf(page, tmp_path)
    assert pdf.startswith(b"%PDF") and 1 <= pages <= 2, pages
    width, inner, broken = layout(page, tmp_path)
    assert width <= inner == 1280 and not broken, (width, broken)


def test_the_printable_page_of_a_complete_move_says_so(tmp_path):
    summary = dict(crowded_summary("en"), not_uploaded=[], not_uploaded_count=0,
                   not_moving=[], folders=[], totals={"uploaded": 10}, backup=None)
    html = render_person_page(summary)
    assert "Every message moved." in html and "No backup is recorded yet." in html
    assert "every message that should be on the server is there" in html


def test_the_layout_probe_sees_a_name_broken_across_lines(tmp_path):
    """The check above is only as good as its probe: a short name squeezed into a
    narrow cell that may break anywhere (what a person page once did) is caught."""
    page = tmp_path / "squeezed.html"
    page.write_text('<!DOCTYPE html><html><body><table style="width:100%"><tr>'
                    '<td style="width:99%">x</td><td style="overflow-wrap:anywhere;'
                    'width:1%">Lüdenscheidt</td></tr></table></body></html>',
                    encoding="utf-8")
    width, inner, broken = layout(page, tmp_path)
    assert broken == ["Lüdenscheidt"] and width <= inner


def test_words_not_raw_numbers_and_one_name_per_folder(tmp_path):
    """Issue 39.9: "1.5e+06 bytes a second", "1 files", and two stores of one person
    both shown as "(root)"."""
    from migrate.estimate import estimate
    from migrate.plan import build_plan
    from migrate.report import files, plan_rows
    from migrate.sources import open_store
    from tests.support.builders import message, write_mbox
    said = estimate(10, 10_000, 1, 0.05, 2e6, max_bytes_per_second=1.5e6).assumptions
    assert any("1.5 MB a second" in a for a in said) and not any("e+06" in a for a in said)
    assert (files(1), files(2)) == ("1 file", "2 files")
    for name in ("old.mbox", "new.mbox"):
        write_mbox(tmp_path / name, [message(name)])
    plan = build_plan([open_store(tmp_path / "old.mbox"), open_store(tmp_path / "new.mbox")])
    assert sorted(r["folder"] for r in plan_rows(plan)) == ["new.mbox: (root)",
                                                            "old.mbox: (root)"]
    one = build_plan([open_store(tmp_path / "old.mbox")])
    assert [r["folder"] for r in plan_rows(one)] == ["(root)"]


def test_the_check_page_accounts_for_mail_not_from_the_sources():
    from migrate.report_html import render_verify_html
    box = {"mailbox": "INBOX", "exists": True, "expected": 516, "on_server": 557,
           "missing": [], "refused": [], "altered": [], "duplicated": [],
           "unexpected_count": 41}
    page = render_verify_html({"missing": 0, "folders_missing": 0, "refused": 0,
                               "altered": 0, "duplicated": 0, "unexpected": 41,
                               "mailboxes": [box], "conclusion": "OK"})
    assert "41 messages on the server are not from these sources" in page
    assert "<td>41</td>" in page
