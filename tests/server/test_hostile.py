"""Hostile and unlucky input: the backup is exactly what was read, restores are safe,: the
server tests (tests/functional/test_hostile.py has the rest, and says what they prove)."""

from __future__ import annotations

import os
import stat

from migrate import backup
from migrate.errors import ExitCode
from migrate.sources import open_store
from tests.support.builders import crlf, message, write_mbox
from tests.support.hostile_shared import assert_read_is_backed_up, no_traceback, posix_only, run

# -- the gate ------------------------------------------------------------------

def test_truncated_archive_is_never_accepted(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("a"), message("b")])
    assert mm("backup", tmp_path / "one.mbox", "--backup-dir", tmp_path / "bk").code == 0
    [archive] = (tmp_path / "bk").glob("*.tar")
    os.truncate(archive, 2048)
    plan = mm("plan", tmp_path / "one.mbox", "--backup-dir", tmp_path / "bk")
    assert "holds exactly these sources" not in plan.out
    used = no_traceback(mm("run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir",
                           tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes",
                           "--use-backup", archive, account=account))
    assert used.code == ExitCode.BACKUP and "make a new" in used.err
    assert account.read_back()["INBOX"] == []
    r = run(mm, account, tmp_path / "one.mbox", tmp_path)
    assert r.code == 0, r.err
    new = [p for p in (tmp_path / "bk").glob("*.tar") if p != archive]
    assert len(new) == 1 and str(new[0]) in r.out
    backup.verify_backup(new[0])


def test_use_backup_with_only_the_tar(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    assert mm("backup", tmp_path / "one.mbox", "--backup-dir", tmp_path / "bk").code == 0
    [archive] = (tmp_path / "bk").glob("*.tar")
    backup.sidecar(archive, ".manifest.json").unlink()
    backup.sidecar(archive, ".verified").unlink()
    r = run(mm, account, tmp_path / "one.mbox", tmp_path, "--use-backup", archive)
    assert r.code == 0, r.err


# -- links and special files: what is read is what is backed up ------------------

@posix_only
def test_thunderbird_mail_folder_behind_a_link_is_backed_up(tmp_path, account, mm):
    elsewhere = tmp_path / "other-disk" / "Mail"
    (elsewhere / "Local Folders").mkdir(parents=True)
    write_mbox(elsewhere / "Local Folders" / "Inbox", [message("linked inbox")])
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "prefs.js").write_text("// prefs\n")
    (profile / "Mail").symlink_to(elsewhere)
    store = open_store(profile)
    names = assert_read_is_backed_up(store, tmp_path)
    assert "store0/Mail/Local Folders/Inbox" in names
    r = run(mm, account, profile, tmp_path)
    assert r.code == 0, r.err
    assert [m.data for m in account.read_back()["INBOX"]] == [crlf(message("linked inbox"))]


# -- input hygiene ----------------------------------------------------------------


def test_state_path_with_url_characters(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    state = tmp_path / "odd#name?x=1.sqlite"
    r = mm("run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", state, "--yes", account=account)
    assert r.code == 0, r.err
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("plan", "verify"):
        r = no_traceback(mm(command, tmp_path / "one.mbox", *account.cli_args(), "--state", state,
                            account=account))
        assert r.code == 0, r.err
    stray = set(p.name for p in tmp_path.iterdir()) - set(before)
    assert all(name.startswith(state.name) for name in stray), stray  # -wal/-shm of SQLite


@posix_only
def test_everything_written_is_private(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("a")])
    r = mm("run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "st" / "state.sqlite", "--yes", account=account)
    assert r.code == 0, r.err
    assert mm("plan", tmp_path / "one.mbox", "--report", tmp_path / "rep").code == 0
    written = list((tmp_path / "st").rglob("*")) + list((tmp_path / "rep").rglob("*"))
    assert any(p.name.endswith("-wal") or p.name.endswith(".run.html") for p in written)
    for path in written + [tmp_path / "st", tmp_path / "rep"]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


