"""``run`` reads the sources while it logs in and while it writes the backup.

The plan names the folders for the server only after reading them (the login
runs meanwhile); the backup is written beside the plan and the upload still
waits for it, verified. A failed login or backup stops the reading early, and
a backup that is stopped leaves no archive behind.
"""

from __future__ import annotations

import os

from migrate.errors import ExitCode
from tests.support.builders import message, snapshot, write_mbox


def rows(plan):
    return [(f.target, p.content_hash, p.action) for f in plan.folders for p in f.messages]


def gate_args(tmp_path):
    """The gate's settings as run passes them: no --use-backup, a backup folder, plain."""
    return {"use": None, "backup_dir": tmp_path / "bk", "compress": False}


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


def _before_the_comparison(monkeypatch, change):
    """Call *change* (archive, source) between the writing and the re-reading."""
    from migrate import backup
    real = backup._compare_written

    def changed_then_compared(archive, written, *args):
        change(archive, written[0][1])
        return real(archive, written, *args)
    monkeypatch.setattr(backup, "_compare_written", changed_then_compared)


def _flip_byte(path, needle: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[data.index(needle)] ^= 0x20
    path.write_bytes(bytes(data))


_WRITTEN_TO_MEANWHILE = """
import sys
from migrate import backup
real = backup._compare_written
source, appended = sys.argv.pop(1), bytes.fromhex(sys.argv.pop(1))

def compared_then_written_to(archive, written, *args):
    checked = real(archive, written, *args)
    with open(source, "ab") as f:  # a mail client's new message, mid-run
        f.write(appended)
    return checked

backup._compare_written = compared_then_written_to
from migrate.cli import main
sys.exit(main(sys.argv[1:]))
"""


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


def in_pty(args: list, env: dict, timeout: float = 120) -> tuple[int, str]:
    """Run mailmigrate on a real terminal (a pty): (exit code, what the terminal showed)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    from tests.conftest import ROOT
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # as a window
    proc = subprocess.Popen([sys.executable, "-m", "migrate", *map(str, args)], cwd=ROOT,
                            stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    out, deadline = bytearray(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other side closed: the command is done
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")


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


