"""``run`` reads the sources while it logs in and while it writes the backup: the server
tests (tests/unit/test_overlap.py has the rest, and says what they prove)."""

from __future__ import annotations

import os

from migrate.errors import ExitCode
from tests.support.builders import message, snapshot, write_mbox
from tests.support.overlap_shared import _WRITTEN_TO_MEANWHILE, in_pty


def test_a_wrong_password_ends_the_run_with_no_partial_backup(tmp_path, account, mm):
    src = tmp_path / "src"
    write_mbox(src / "one.mbox", [message(f"m{i}", body="y" * 20000 + "\n") for i in range(300)])
    before = snapshot(src)
    r = mm("run", src / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "state" / "s.sqlite", "--yes", account=account,
           env={"MM_TEST_PASSWORD": "wrong"})
    assert r.code == ExitCode.AUTH, r.out + r.err
    assert "refused the login" in r.err and "Traceback" not in r.err
    assert account.read_back()["INBOX"] == []
    left = sorted(p.name for p in (tmp_path / "bk").iterdir()) if (tmp_path / "bk").exists() else []
    # stopped while written (nothing left), or finished first: then complete and verified
    assert left == [] or any(n.endswith(".verified") for n in left), left
    assert not list((tmp_path / "state").glob("mailmigrate-plan-*"))
    assert snapshot(src) == before


def test_run_uploads_nothing_when_a_source_is_written_to_meanwhile(tmp_path, account):
    """The same through ``mailmigrate run`` (a process whose backup, once compared, lets a
    mail client append to the mbox): whichever of the plan and the append comes
    first, nothing is uploaded, exit 7 with the advice, and the next run moves all."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    src = tmp_path / "src" / "one.mbox"
    write_mbox(src, [message(f"m{i}") for i in range(5)])
    appended = b"From MAILER-DAEMON Wed Jan  1 12:00:00 2020\n" + message("meanwhile") + b"\n"
    args = ["run", str(src), *account.cli_args(), "--backup-dir", str(tmp_path / "bk"),
            "--state", str(tmp_path / "state.sqlite"), "--yes"]
    env = dict(os.environ, MM_TEST_PASSWORD=account.password)
    proc = subprocess.run([sys.executable, "-c", _WRITTEN_TO_MEANWHILE, str(src),
                           appended.hex(), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == ExitCode.BACKUP, proc.stdout + proc.stderr
    assert "changed while this run read it" in proc.stderr and "Traceback" not in proc.stderr
    assert account.read_back().get("INBOX", []) == []
    again = subprocess.run([sys.executable, "-m", "migrate", *args], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(account.read_back()["INBOX"]) == 6


def test_a_terminal_shows_the_backup_beside_the_plan_and_a_clean_summary(tmp_path, account):
    """What a person at a terminal sees: the backup's bar while the plan reads, then the
    summary, and no traceback; the prompt is skipped with --yes."""
    import os
    src = tmp_path / "src"
    write_mbox(src / "one.mbox", [message(f"m{i}", body="z" * 30000 + "\n") for i in range(200)])
    env = dict(os.environ, MM_TEST_PASSWORD=account.password, XDG_DATA_HOME=str(tmp_path / "x"),
               COLUMNS="100", TERM="xterm")
    code, shown = in_pty(["run", src / "one.mbox", *account.cli_args(), "--backup-dir",
                          tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes"], env)
    assert code == ExitCode.SUCCESS, shown
    assert "backing up" in shown and "Summary:" in shown and "Traceback" not in shown
    summary = shown[shown.index("Summary:"):]
    assert "moved now:              200" in summary and "\x1b[A" not in summary  # no bar inside it
    assert len(account.read_back()["INBOX"]) == 200


