"""``mailmigrate plan`` of the same files by two versions of the code, side by side.

    python bench/plan_versions.py [--before REV] [--after REV] [--messages 100000]
                                  [--issue-mb 3072] [--folders 500]
                                  [--files LF,CRLF,issue,tree]
                                  [--rounds 2] [--dir /var/tmp]

Generates mbox files: two of ``--messages`` messages (``bench/scale.py``'s
log-normal sizes, 10 KB on average), one with LF line ends, one with CRLF (as
Thunderbird writes on Windows); and **issue**, the file of issue 17's plan-speed
goal: ``bench/read_throughput.py``'s generator at ``--issue-mb`` (3,072 MB:
~190,000 messages, 17 KB on average, some attachments of a few MB); and
**tree**, a Thunderbird-like directory of ``--folders`` mbox files holding
``--messages`` messages between them (10 KB on average). Checks out
*before* (default: the previous
commit) and *after* (default: the working tree) into temporary worktrees,
then times ``mailmigrate plan FILE`` of each file by each version, each in a
fresh process, interleaved per round so the machine's drift hits both alike.
Prints MB/s (median and best), CPU seconds of all processes (median and least)
and peak RSS; the files and worktrees are deleted afterwards. This VM's
neighbours move both wall and CPU time by up to a fifth between rounds: the
best round and the least CPU are the figures least disturbed by them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from read_throughput import generate as generate_issue_file  # noqa: E402
from scale import generate  # noqa: E402


def checkout(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(into), rev],
                   check=True, capture_output=True)
    return into


def remove_checkouts(trees, work: Path) -> None:
    """The temporary worktrees of *trees* (not the working tree) and *work*, gone."""
    for tree in trees:
        if tree != ROOT:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


def plan_once(tree: Path, mbox: Path) -> tuple[float, float, float]:
    """(MB/s, peak RSS in MB, CPU seconds of every process) of ``mailmigrate plan`` of
    *mbox* by the code in *tree*."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "migrate", "plan", str(mbox)], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"plan by {tree} failed: {proc.stderr.read().decode()[-2000:]}")
    return (source_bytes(mbox) / 1e6 / (time.perf_counter() - started), usage.ru_maxrss / 1024,
            usage.ru_utime + usage.ru_stime)  # wait4: the workers are reaped by it


def source_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="HEAD~1")
    ap.add_argument("--after", default=None, help="a revision (default: the working tree)")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--issue-mb", type=int, default=3072)
    ap.add_argument("--folders", type=int, default=500)
    ap.add_argument("--files", default="LF,CRLF,issue,tree")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-versions-", dir=args.dir))
    trees = {}
    try:
        trees[f"before ({args.before})"] = checkout(args.before, work / "before")
        trees[f"after ({args.after or 'working tree'})"] = (
            checkout(args.after, work / "after") if args.after else ROOT)
        files = {name: work / f"{name.lower()}.mbox" for name in args.files.split(",")}
        counts = {}
        for name, path in files.items():
            if name == "issue":
                counts[name] = generate_issue_file(path, args.issue_mb)
            elif name == "tree":
                path.mkdir()
                each = args.messages // args.folders
                for i in range(args.folders):  # every message its own (see the docs)
                    generate(path / f"folder{i:04d}", each, 10, seed=i, first=i * each)
                counts[name] = args.messages // args.folders * args.folders
            else:
                generate(path, args.messages, 10, crlf=name == "CRLF")
                counts[name] = args.messages
        results: dict[tuple[str, str], list] = {}
        for _ in range(args.rounds):
            for version, tree in trees.items():
                for name, path in files.items():
                    results.setdefault((version, name), []).append(plan_once(tree, path))
        print(f"mailmigrate plan, medians of {args.rounds} interleaved rounds")
        for name, path in files.items():
            print(f"  {name}, {source_bytes(path) / 1e6:,.0f} MB, {counts[name]:,} messages")
            for version in trees:
                runs = results[(version, name)]
                print(f"    {version:32s} {statistics.median(r[0] for r in runs):6.0f} MB/s "
                      f"(best {max(r[0] for r in runs):.0f}; rounds: "
                      f"{', '.join(f'{r[0]:.0f}' for r in runs)}), CPU "
                      f"{statistics.median(r[2] for r in runs):.1f} s (least "
                      f"{min(r[2] for r in runs):.1f}), peak RSS {max(r[1] for r in runs):.0f} MB")
    finally:
        remove_checkouts(trees.values(), work)


if __name__ == "__main__":
    main()
