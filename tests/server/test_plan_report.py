"""The dry-run plan and its reports, and verify: what people read before and after cutover."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from migrate.errors import ExitCode
from tests.conftest import skip_or_fail
from tests.support.builders import message, write_mbox
from tests.support.plan_report_shared import (
    KINDS,
    _chromium,
    make_store,
    mixed_sources,
    msg,
    read_report,
    server_state,
    validate,
)


@pytest.mark.parametrize("kind", KINDS)
def test_plan_with_target_reads_the_server_and_changes_nothing(tmp_path, make_account, mm,
                                                               kind):
    account = make_account(quota_kb=2000)
    src, count = make_store(tmp_path / "src", kind)
    first = msg(kind, 0, 2019)
    account.append("INBOX", first.replace(b"\n", b"\r\n"))  # already there (another client)
    account.append("INBOX", message("someone else's mail", msgid="<other@example.org>")
                   .replace(b"\n", b"\r\n"))
    account.append("Old", message("old").replace(b"\n", b"\r\n"), flags=[b"\\Seen"])
    before = server_state(account)
    assert before["INBOX"][1][b"RECENT"] == 2

    r = mm("plan", src, *account.cli_args(), "--report", tmp_path / "report", account=account)
    assert r.code == 0, r.err
    assert server_state(account) == before  # no folder, message, flag or \Recent change
    document, rows, _ = read_report(tmp_path / "report")
    validate(document)
    s, target = document["summary"], document["target"]
    assert s["counts"]["present"] == 1 and s["upload_messages"] == count - 1
    assert target["quota"]["limit_bytes"] == 2000 * 1024
    assert s["fits"] is True and target["quota"]["headroom_after_bytes"] > 0
    assert s["estimate"]["low_seconds"] <= s["estimate"]["high_seconds"]
    assert s["estimate"]["round_trip_ms"] >= 0 and s["estimate"]["assumptions"]
    inbox = [f for f in document["folders"] if f["target"] == "INBOX"]
    assert inbox and all(f["target_exists"] for f in inbox)
    others = [f for f in document["folders"] if f["target"] != "INBOX" and f["messages"]]
    assert all(f["target_exists"] is False for f in others)
    assert sorted(target["mailboxes_to_create"]) == sorted({f["target"] for f in others})
    assert "Quota:" in r.out and "the upload fits" in r.out and "Time:" in r.out


def test_plan_says_when_the_upload_does_not_fit(tmp_path, make_account, mm):
    account = make_account(quota_kb=20)
    msgs = [message(f"big {i}", body=("z" * 70 + "\n") * 100) for i in range(10)]  # ~70 KB
    write_mbox(tmp_path / "one.mbox", msgs)
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args(), "--report", tmp_path / "rep",
           account=account)
    assert r.code == 5, r.err  # a plan that foresees the account full is not "ok"
    assert "does NOT fit" in r.out
    document = json.loads((tmp_path / "rep" / "plan.json").read_text())
    validate(document)
    assert document["summary"]["fits"] is False
    assert document["target"]["quota"]["headroom_after_bytes"] < 0


def test_plan_numbers_equal_run_numbers(tmp_path, make_account, mm):
    account = make_account("appendlimit")  # announces the limit, so plan can know
    src = mixed_sources(tmp_path / "src")
    account.append("Sent", message("sent 1", date="Wed, 04 May 2016 09:00:00 +0000")
                   .replace(b"\n", b"\r\n"))  # already on the server
    r = mm("plan", src, *account.cli_args(), "--report", tmp_path / "rep", account=account)
    assert r.code == 0, r.err
    planned = json.loads((tmp_path / "rep" / "plan.json").read_text())
    validate(planned)
    pc = planned["summary"]["counts"]
    assert (pc["upload"], pc["present"], pc["duplicate"], pc["skip"], pc["refuse"]) == \
        (11, 1, 1, 1, 1)

    state = tmp_path / "state.sqlite"
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state", state,
           "--yes", account=account)
    assert r.code == ExitCode.SKIPPED, r.err
    ran = json.loads(state.with_suffix(".run.json").read_text())
    rc = ran["totals"]
    assert rc.get("uploaded", 0) == pc["upload"] and rc.get("failed", 0) == 0
    for action in ("present", "duplicate", "skip", "refuse"):
        assert rc.get(action, 0) == pc[action], action
    by_folder = {f["folder"]: f for f in ran["folders"]}
    for f in planned["folders"]:
        done = by_folder[f["folder"]]
        assert done["target"] == f["target"] and done["uploaded"] == f["upload"], f["folder"]
        for action in ("present", "duplicate", "skip", "refuse"):
            assert done[action] == f[action], (f["folder"], action)
    assert sum(len(b) for b in account.read_back().values()) == 11 + 1
    # the run's own check and its report beside the state
    assert ran["missing"] == 0 and {v["mailbox"] for v in ran["verification"]} >= {"INBOX"}
    html = state.with_suffix(".run.html").read_text()
    assert "Mail migration result" in html and "larger than the server" in html
    assert "verification: 3 mailboxes checked, 12 messages expected, 0 missing" in r.out


def test_verify_passes_then_names_deleted_and_duplicated_messages(tmp_path, account, mm):
    src = mixed_sources(tmp_path / "src")
    state = tmp_path / "state.sqlite"
    assert mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
              state, "--yes", account=account).code == ExitCode.SUCCESS  # deleted stays behind
    ok = mm("verify", src, *account.cli_args(), "--state", state, account=account)
    assert ok.code == 0, ok.err + ok.out
    assert "OK: every message" in ok.out and "without a state" not in ok.out
    with open(state.with_suffix(".run.csv"), newline="", encoding="utf-8") as fh:
        left = list(csv.DictReader(fh))  # every message that did not move, a row each
    assert [r["what"] for r in left] == ["skipped"] and "deleted" in left[0]["why"].lower()
    assert state.with_suffix(".run.csv").stat().st_mode & 0o777 == 0o600
    stateless = mm("verify", src, *account.cli_args(), account=account)  # another machine
    assert stateless.code == 0, stateless.err + stateless.out
    assert "checked without a state database" in stateless.out

    inbox = account.read_back()["INBOX"]
    victim = next(m for m in inbox if b"Subject: inbox 3" in m.data)
    copy = next(m for m in inbox if b"Subject: inbox 0" in m.data)
    account.delete_as_other_client("INBOX", victim.uid)
    account.append("INBOX", copy.data)  # another client doubles one message
    account.append("INBOX", message("not ours", msgid="<stranger@example.org>")
                   .replace(b"\n", b"\r\n"))
    bad = mm("verify", src, *account.cli_args(), "--report", tmp_path / "v", account=account)
    assert bad.code == ExitCode.VERIFY_FAILED, bad.out + bad.err
    missing_line = next(line for line in bad.out.splitlines() if "missing:" in line)
    assert "Subject inbox 3" in missing_line and "Message-ID <" in missing_line
    assert "Date Tue, 04 Mar 2022" in missing_line and "From Ann <ann@example.org>" in missing_line
    assert any("duplicate copy" in line and "Subject inbox 0" in line
               for line in bad.out.splitlines())
    assert any("not from these sources" in line and "Subject not ours" in line
               for line in bad.out.splitlines())
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert result["ok"] is False and result["missing"] == 1 and result["duplicated"] == 1
    box = next(b for b in result["mailboxes"] if b["mailbox"] == "INBOX")
    assert box["missing"][0]["subject"] == "inbox 3"
    assert box["unexpected"][0]["message_id"] == "<stranger@example.org>"
    with open(tmp_path / "v" / "verify.csv", newline="", encoding="utf-8") as fh:
        named = list(csv.DictReader(fh))
    assert [(r["mailbox"], r["problem"], r["subject"]) for r in named] == [
        ("INBOX", "missing", "inbox 3")]
    assert named[0]["message_id"] == box["missing"][0]["message_id"]
    assert (tmp_path / "v" / "verify.csv").stat().st_mode & 0o777 == 0o600


def test_plan_html_renders_in_headless_chromium(tmp_path, make_account, mm):
    browser, ocr = _chromium(), shutil.which("tesseract")
    if not browser or not ocr:
        skip_or_fail("needs Debian's chromium and tesseract-ocr (scripts/test.sh installs them)")
    account = make_account(quota_kb=5000)
    src = mixed_sources(tmp_path / "src")
    r = mm("plan", src, *account.cli_args(), "--report", tmp_path / "rep", account=account)
    assert r.code == 0, r.err
    shot = tmp_path / "plan.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'chromium'}", "--hide-scrollbars",
                    "--window-size=1200,900", f"--screenshot={shot}",
                    (tmp_path / "rep" / "plan.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
    text = subprocess.run([ocr, str(shot), "-"], capture_output=True, text=True, timeout=120,
                          check=True).stdout
    flat = " ".join(text.split())
    assert "Mail migration plan" in flat, flat
    assert "Will it fit?" in flat and "Yes" in flat, flat
    assert "How long?" in flat and "will be uploaded" in flat, flat


def test_a_report_directory_that_cannot_be_written_is_a_sentence(tmp_path, account, mm):
    """--report naming a file (or a place without permission or space): exit 2 with what
    to do, not a traceback (exit 70) after the whole check."""
    src = mixed_sources(tmp_path / "src")
    (tmp_path / "taken").write_text("a file")
    for command in ("plan", "verify"):
        r = mm(command, src, *account.cli_args(), "--report", tmp_path / "taken" / "rep",
               account=account)
        assert r.code == ExitCode.USAGE, r.err
        assert "the reports cannot be written into" in r.err and "not a directory" in r.err
        assert "Traceback" not in r.err


def test_a_pre_stage_plan_checks_the_quota_against_everything_still_to_move(tmp_path,
                                                                            make_account, mm):
    """Issue 39.4: a --before pre-stage said "fits, leaving 10.2 MB free" while the rest
    left for the night did not fit, and the night stopped with the account full."""
    import datetime as dt
    account = make_account(quota_kb=60)
    old = [message(f"old {i}", body="o\n" * 10, date="Mon, 03 Feb 2014 10:00:00 +0100")
           for i in range(5)]
    new = [message(f"new {i}", body=("n" * 70 + "\n") * 200,
                   date="Mon, 03 Feb 2025 10:00:00 +0100") for i in range(5)]
    write_mbox(tmp_path / "one.mbox", old + new,
               [dt.datetime(2014, 2, 3)] * 5 + [dt.datetime(2025, 2, 3)] * 5)
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args(), "--before", "2020-01-01",
           "--report", tmp_path / "rep", account=account)
    assert r.code == 5, r.out + r.err
    assert "this pass fits, but this pass and the" in r.out and "do NOT fit" in r.out
    document = json.loads((tmp_path / "rep" / "plan.json").read_text())
    validate(document)
    s = document["summary"]
    assert s["this_pass_fits"] is True and s["fits"] is False
    assert s["left_for_later"]["messages"] == 5
    assert "No" in (tmp_path / "rep" / "plan.html").read_text()
    whole = mm("plan", tmp_path / "one.mbox", *account.cli_args(), account=account)
    assert whole.code == 5 and "does NOT fit" in whole.out
