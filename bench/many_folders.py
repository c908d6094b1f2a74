"""A profile of many folders through ``run`` and the no-op re-run, by two versions.

    python bench/many_folders.py [--folders 500] [--messages 50000] [--before REV]
                                 [--delay 0] [--rounds 1] [--dir /var/tmp]

A Thunderbird "Local Folders" directory of ``--folders`` mbox files holding
``--messages`` messages between them (``bench/scale.py``'s sizes, 10 KB on
average, every message its own), moved into a private Dovecot by the code of
*before* (a temporary worktree; default: the last commit of session 9) and by
the working tree: ``mailmigrate run`` (plan, backup, upload, check), then the
same command again with nothing left to do, each in a fresh process, a new
account per version and round. With ``--delay`` (seconds each way) through
the latency proxy of ``tests/support/faults.py``, as a WAN link. Then ``plan`` and
``verify`` with the run's state (the report before cutover asked again, the
morning's check). Prints seconds, seconds per 10,000 messages for the re-run,
and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from plan_versions import checkout, remove_checkouts  # noqa: E402
from scale import generate  # noqa: E402

from tests.support.dovecot import Dovecot  # noqa: E402

BEFORE = "bfdf8cb"  # the last commit of session 9


def timed(tree: Path, cmd: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of *cmd* run in *tree*; exit 0 required."""
    with tempfile.TemporaryFile() as err:  # not a pipe: a full one would stop the command
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{cmd[3]} by {tree} failed: {err.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folders", type=int, default=500)
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--delay", type=float, default=0.0, help="one-way delay, seconds")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-folders-", dir=args.dir))
    trees = {}
    server = proxy = None
    try:
        trees[f"before ({args.before})"] = checkout(args.before, work / "before")
        trees["after (working tree)"] = ROOT
        src = work / "Local Folders"
        src.mkdir()
        each = args.messages // args.folders
        for i in range(args.folders):
            generate(src / f"folder{i:04d}", each, 10, seed=i, first=i * each)
        size = sum(f.stat().st_size for f in src.iterdir())
        server = Dovecot("default")
        port = server.imaps_port
        if args.delay:
            proxy = subprocess.Popen([sys.executable, "-m", "tests.support.faults", str(port),
                                      str(args.delay)], cwd=ROOT, stdout=subprocess.PIPE,
                                     text=True)
            port = int(proxy.stdout.readline())
        results: dict[str, list] = {}
        for r in range(args.rounds):
            for n, (version, tree) in enumerate(trees.items()):
                account = server.add_user()
                state = work / f"{r}-{n}"  # one state a round and tree: each its own account
                env = dict(os.environ, MM_TEST_PASSWORD=account.password)
                mm = [sys.executable, "-m", "migrate"]
                target = [str(src), "--host", "127.0.0.1", "--port", str(port), "--ca-file",
                          str(server.ca_file), "--user", account.user, "--password-env",
                          "MM_TEST_PASSWORD", "--state", str(state / "state.sqlite")]
                cmd = [*mm, "run", *target, "--backup-dir", str(state / "backup"), "--yes"]
                first = timed(tree, cmd, env)
                again = timed(tree, cmd, env)
                replan = timed(tree, [*mm, "plan", *target], env)
                check = timed(tree, [*mm, "verify", *target], env)
                shutil.rmtree(state / "backup", ignore_errors=True)
                results.setdefault(version, []).append((first, again, replan, check))
        print(f"{args.folders} folders, {each * args.folders:,} messages, {size / 1e6:,.0f} MB; "
              f"round trip {2 * args.delay * 1000:.0f} ms; {args.rounds} round(s)")
        for version, runs in results.items():
            for (first, again, replan, check) in runs:
                per = again[0] / (each * args.folders) * 10_000
                print(f"  {version:28s} run {first[0]:7.1f} s ({first[1]:.0f} MB)   no-op re-run "
                      f"{again[0]:6.1f} s = {per:.2f} s per 10,000 messages ({again[1]:.0f} MB)"
                      f"   plan {replan[0]:5.1f} s   verify {check[0]:5.1f} s "
                      f"({check[1]:.0f} MB)")
    finally:
        if proxy is not None:
            proxy.kill()
        if server is not None:
            server.stop()
        remove_checkouts(trees.values(), work)


if __name__ == "__main__":
    main()
