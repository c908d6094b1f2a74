"""What the tests of test_overlap share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations


def rows(plan):
    return [(f.target, p.content_hash, p.action) for f in plan.folders for p in f.messages]


def gate_args(tmp_path):
    """The gate's settings as run passes them: no --use-backup, a backup folder, plain."""
    return {"use": None, "backup_dir": tmp_path / "bk", "compress": False}


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
