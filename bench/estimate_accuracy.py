"""Is the plan's time estimate honest? Plan, then run, over the same simulated link.

    python bench/estimate_accuracy.py [--messages 2000] [--delays 0.005,0.025,0.1]

For each one-way delay: a private Dovecot behind a latency proxy (its own
process), a store of realistic messages (bench/upload_speed.py's corpus) in
four folders, `mailmigrate plan` (its estimate range), then the real
`mailmigrate run` (upload phase and whole command timed), in fresh accounts.
Prints whether the whole run (what the estimate promises) fell inside the range.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.upload_speed import corpus  # noqa: E402
from tests.support.builders import write_mbox  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402


def cli(args, account, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, MM_TEST_PASSWORD=account.password, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "migrate", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--delays", default="0.005,0.025,0.1")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-estimate-"))
    msgs = corpus(args.messages)
    names = ["Inbox", "Sent", "Archive.sbd/2019", "Archive.sbd/2020"]
    for i, name in enumerate(names):
        write_mbox(work / "src" / name, [m.replace(b"\r\n", b"\n") for m in msgs[i::4]])
    mb = sum(len(m) for m in msgs) / 1e6
    server = Dovecot("default")
    print(f"{args.messages} messages, {mb:.0f} MB, 4 folders, default 3 connections")
    print("| one-way delay | estimate | run (upload phase) | run (whole command) | inside? |")
    print("| --- | --- | --- | --- | --- |")
    try:
        for delay in map(float, args.delays.split(",")):
            proxy_proc = subprocess.Popen([sys.executable, "-m", "tests.support.faults",
                                           str(server.imaps_port), str(delay)], cwd=ROOT,
                                          stdout=subprocess.PIPE, text=True)
            proxy = types.SimpleNamespace(port=int(proxy_proc.stdout.readline()))
            try:
                account = server.add_user()
                target = account.cli_args(port=proxy.port)
                report = work / f"plan-{delay}"
                r = cli(["plan", work / "src", *target, "--report", report], account)
                assert r.returncode == 0, r.stderr
                est = json.loads((report / "plan.json").read_text())["summary"]["estimate"]
                state = work / f"state-{delay}.sqlite"
                started = time.perf_counter()
                r = cli(["--log-level", "info", "run", work / "src", *target, "--backup-dir",
                         work / "bk", "--state", state, "--yes"], account)
                whole = time.perf_counter() - started
                assert r.returncode == 0, r.stderr
                upload = _upload_seconds(state)
                inside = est["low_seconds"] <= whole <= est["high_seconds"]
                print(f"| {delay * 1000:.0f} ms | {est['low_seconds']:.1f}-{est['high_seconds']:.1f}"
                      f" s ({est['text']}) | {upload:.1f} s | {whole:.1f} s | "
                      f"{'yes' if inside else 'NO'} |")
            finally:
                proxy_proc.kill()
    finally:
        server.stop()


def _upload_seconds(state: Path) -> float:
    """Upload phase from the per-run log: first 'uploading into' to the last upload line."""
    log = next(Path(str(state) + ".logs").glob("run-*.log")).read_text()
    stamps = [m.group(1) for m in re.finditer(
        r"^(\S+ \S+) \w+ (?:uploading into|uploaded \d+ messages)", log, re.M)]
    import datetime as dt
    times = [dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in stamps]
    return (max(times) - min(times)).total_seconds()


if __name__ == "__main__":
    main()
