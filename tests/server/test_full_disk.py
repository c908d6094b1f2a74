"""A real full disk (a small tmpfs), not a faked free-space figure.

The state database fills its disk in the middle of the upload: the run stops
with a sentence and exit 2, never a traceback; once space is freed, the same
command finishes and every message is on the server exactly once.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from migrate.errors import ExitCode
from tests.conftest import skip_or_fail
from tests.support.builders import crlf, message, write_mbox
from tests.support.invariants import assert_state_matches


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.name == "nt" or os.geteuid() != 0 or not shutil.which("mount"):
        skip_or_fail("a real full disk needs root to mount a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_state_disk_full_mid_upload_then_freed(tmp_path, account, mm, small_disk):
    msgs = [message(f"m{i}", body=f"message {i}\n" * 20) for i in range(1500)]
    write_mbox(tmp_path / "one.mbox", msgs)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (16 * 1024 * 1024 - 400_000))
    args = ["run", tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
            "--state", small_disk / "state.sqlite", "--yes", "--batch-size", "20"]
    r = mm(*args, account=account)
    assert r.code == ExitCode.USAGE, r.out + r.err
    assert "Traceback" not in r.err and "free space on that disk" in r.err
    stored = len(account.read_back()["INBOX"])
    assert 0 < stored < len(msgs)
    filler.unlink()
    r = mm(*args, account=account)
    assert r.code == 0, r.out + r.err
    assert sorted(m.data for m in account.read_back()["INBOX"]) == sorted(map(crlf, msgs))
    assert_state_matches(small_disk / "state.sqlite", account, ["INBOX"])
