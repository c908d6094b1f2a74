"""Progress that follows the upload (issue 39, item 2): moving with the bytes the server:
the server tests (tests/unit/test_progress.py has the rest, and says what they prove)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.support.builders import message, write_mbox


def test_progress_moves_inside_one_mailbox_and_counts_this_runs_work(account, mm, tmp_path):
    from tests.support.faults import FaultProxy
    first = [message(f"p{i}", body="z" * 2000) for i in range(300)]
    write_mbox(tmp_path / "Inbox", first)
    common = ["--state", tmp_path / "s.sqlite", "--backup-dir", tmp_path / "bk", "--yes"]
    assert mm("run", tmp_path / "Inbox", *account.cli_args(), *common,
              account=account).code == 0
    more = [message(f"q{i}", body="z" * 2000) for i in range(400)]
    write_mbox(tmp_path / "Inbox", first + more)  # the same Inbox, 400 new at its end
    proxy = FaultProxy(account.server.imaps_port).start()
    proxy.delay = 0.02  # a WAN
    progress = tmp_path / "progress.json"
    args = [sys.executable, "-m", "migrate", "run", str(tmp_path / "Inbox"),
            *map(str, account.cli_args(port=proxy.port)), *map(str, common),
            "--progress-file", str(progress), "--batch-size", "20", "--connections", "1",
            "--max-messages-per-second", "60"]  # the upload takes ~7 s: a long night's shape
    env = dict(os.environ, MM_TEST_PASSWORD=account.password,
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    seen = []
    try:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        while proc.poll() is None:
            try:
                seen.append(json.loads(progress.read_text()))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        err = proc.stderr.read().decode()
    finally:
        proxy.stop()
    assert proc.returncode == 0, err
    running = [s for s in seen if not s["finished"] and s["messages"]]
    steps = sorted({s["messages"] for s in running})
    assert len(steps) >= 3, steps  # it moved (once a second) inside the one mailbox
    assert {s["of_messages"] for s in running} == {400}  # this run's work, not the store's
    assert all(s["elapsed_seconds"] > 0 and s["bytes_per_second"] > 0 for s in running)
    assert any(s["seconds_left"] for s in running)
    final = json.loads(progress.read_text())
    assert final["finished"] and final["messages"] == final["of_messages"] == 400


