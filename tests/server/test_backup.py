"""Backups: round trip, damage detection, the gate before upload, permissions: the server
tests (tests/unit/test_backup.py has the rest, and says what they prove)."""

from __future__ import annotations

from migrate.errors import ExitCode
from tests.support.backup_shared import make_store
from tests.support.builders import message, write_mbox


def test_run_refuses_with_damaged_backup_and_makes_a_new_one(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    r = mm("backup", src, "--backup-dir", tmp_path / "bk")
    assert r.code == 0, r.err
    [archive] = (tmp_path / "bk").glob("*.tar")
    archive.with_suffix(".verified").unlink()  # not verified: must not count
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
           tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == 0, r.err
    assert len(list((tmp_path / "bk").glob("*.tar"))) == 2  # run wrote a fresh one first
    assert "verified" in r.out


def test_run_fails_cleanly_when_backup_impossible(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    r = mm("run", src, *account.cli_args(), "--backup-dir", src / "inside", "--state",
           tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == ExitCode.BACKUP
    assert account.read_back()["INBOX"] == []  # nothing uploaded without a backup


def test_use_backup_must_match_current_sources(tmp_path, account, mm):
    src = make_store(tmp_path / "src")
    assert mm("backup", src, "--backup-dir", tmp_path / "bk").code == 0
    [archive] = (tmp_path / "bk").glob("*.tar")
    write_mbox(src / "Inbox", [message("a"), message("b"), message("changed since")])
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "other", "--use-backup",
           archive, "--state", tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code == ExitCode.BACKUP
    assert "does not hold the current sources" in r.err
    assert account.read_back()["INBOX"] == []
    assert not (tmp_path / "other").exists()  # it did not quietly write another


def test_a_run_of_a_folder_named_with_a_colon_uploads(tmp_path, account, mm):
    write_mbox(tmp_path / "src" / "Taxes: 2020", [message("tax")])
    write_mbox(tmp_path / "src" / "a\\b", [message("backslash")])
    r = mm("run", tmp_path / "src", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--yes", account=account)
    assert r.code == 0, r.out + r.err
    assert len(list((tmp_path / "bk").glob("*.tar"))) == 1
    assert sum(len(v) for v in account.read_back().values()) == 2


