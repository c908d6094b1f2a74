"""One mbox file into INBOX of a real Dovecot: bytes, flags, dates, and a read-only source."""

from __future__ import annotations

import hashlib

from migrate import backup
from migrate.errors import ExitCode
from tests.support.builders import crlf, message, snapshot, write_mbox
from tests.support.end_to_end_shared import UTC, sample_mbox
from tests.support.invariants import assert_state_matches


def test_run_uploads_mbox_into_inbox_exactly(tmp_path, account, mm):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    msgs, dates = sample_mbox(src_dir / "one.mbox")
    before = snapshot(src_dir)

    r = mm("run", src_dir / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "state.sqlite", "--yes", account=account)
    assert r.code == ExitCode.SUCCESS, r.err  # the deleted message stays behind, as meant
    assert "deleted" in r.out
    assert "  backup: " in r.out and \
        "unchanged since: size, time, identity)" in r.out.split("Summary:")[1]
    [archive] = (tmp_path / "bk").glob("*.tar")
    assert backup.verify_backup(archive, mark=False)["stores"][0]["files"][0]["sha256"] == \
        hashlib.sha256((src_dir / "one.mbox").read_bytes()).hexdigest()  # the backup is real
    assert_state_matches(tmp_path / "state.sqlite", account, ["INBOX"])

    inbox = account.read_back()["INBOX"]
    assert [m.data for m in inbox] == [crlf(m) for m in msgs[:5]]
    assert inbox[3].data.count(b"\r\nFrom the start") == 1
    assert b"\r\n>From already quoted" in inbox[3].data
    assert [m.keyflags for m in inbox] == [
        {"\\Seen"}, {"\\Seen", "\\Answered"}, {"\\Flagged"}, set(), set()]
    assert [m.internaldate for m in inbox] == [d.replace(tzinfo=UTC) for d in dates[:5]]

    assert snapshot(src_dir) == before  # byte-identical, and no new file beside it


def test_second_run_uploads_nothing(tmp_path, account, mm):
    msgs, _ = sample_mbox(tmp_path / "one.mbox")
    args = ["run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
            "--state", tmp_path / "state.sqlite", "--yes"]
    assert mm(*args, account=account).code == ExitCode.SUCCESS
    again = mm(*args, account=account)  # a re-run of a complete migration: exit 0 for scripts
    assert again.code == ExitCode.SUCCESS, again.err
    assert len(account.read_back()["INBOX"]) == 5
    assert "moved now:              0" in again.out
    assert_state_matches(tmp_path / "state.sqlite", account, ["INBOX"])
    plan = mm("plan", tmp_path / "one.mbox", *account.cli_args(), "--state",
              tmp_path / "state.sqlite", account=account)
    total = next(line.split() for line in plan.out.splitlines() if line.startswith("TOTAL"))
    assert total[4:7] == ["0", "0", "5"]  # nothing to upload, 5 done by earlier runs


def test_plan_prints_table_and_changes_nothing(tmp_path, account, mm):
    sample_mbox(tmp_path / "one.mbox")
    before = snapshot(tmp_path)
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args(), account=account)
    assert r.code == 0, r.err
    assert "INBOX" in r.out and "TOTAL" in r.out
    assert snapshot(tmp_path) == before
    server = account.read_back()
    assert server["INBOX"] == [] and all(box == [] for box in server.values())


def test_status_shows_the_state_per_mailbox(tmp_path, account, mm):
    sample_mbox(tmp_path / "one.mbox")
    mm("run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
       "--state", tmp_path / "state.sqlite", "--yes", account=account)
    r = mm("status", "--state", tmp_path / "state.sqlite")
    assert r.code == 0, r.err
    inbox = next(line.split() for line in r.out.splitlines() if line.startswith("INBOX"))
    assert inbox[1:] == ["5", "0", "0", "0", "0", "1", "0"]  # uploaded ... skipped (deleted)
    assert "exit 0" in r.out


def test_password_never_written_anywhere(tmp_path, account, mm):
    """Non-negotiable 6: the secret is in no file the run wrote, and not in its output."""
    sample_mbox(tmp_path / "src.mbox")
    work = tmp_path / "work"
    r = mm("run", tmp_path / "src.mbox", *account.cli_args(), "--backup-dir", work / "bk",
           "--state", work / "state.sqlite", "--yes", "--log-level", "debug", account=account)
    assert r.code == 0, r.err
    bad = mm("plan", tmp_path / "src.mbox", *account.cli_args(), "--log-level", "debug",
             account=account, env={"MM_TEST_PASSWORD": account.password + "-wrong"})
    secret = account.password.encode()
    assert secret not in (r.out + r.err + bad.out + bad.err).encode()
    written = [p for p in work.rglob("*") if p.is_file()] + \
        [p for p in (tmp_path / "xdg-data").rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert secret not in path.read_bytes(), path


def test_the_run_check_counts_a_copy_sent_twice_into_a_folder_that_held_mail(tmp_path,
                                                                             account, mm):
    """The check at the end of run reads only what came since our first upload into a
    mailbox; on a real Dovecot INBOX that held mail before, it still finds every message
    and counts a second copy of one of ours that appeared since."""
    import json
    for i in range(30):
        account.append("INBOX", crlf(message(f"theirs {i}", msgid=f"<theirs-{i}@example.org>")))
    msgs = [message(f"ours {i}") for i in range(3)]
    write_mbox(tmp_path / "src.mbox", msgs)
    args = ["run", tmp_path / "src.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
            "--state", tmp_path / "state.sqlite", "--yes", "--json"]
    first = mm(*args, account=account)
    assert first.code == 0, first.err
    [box] = json.loads(first.out)["verification"]
    assert (box["expected"], box["missing"], box["duplicated"], box["unexpected"]) == (3, 0, 0, 30)
    account.append("INBOX", crlf(msgs[1]))  # a second copy of ours appears
    again = mm(*args, account=account)
    [box] = json.loads(again.out)["verification"]
    assert (box["missing"], box["duplicated"], box["unexpected"]) == (0, 1, 30), again.out
