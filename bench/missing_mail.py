"""``verify --report`` when every message is missing: memory and time, two versions.

    python bench/missing_mail.py [--counts 100000,1000000] [--before REV] [--after REV]
                                 [--dir /var/tmp]

The overnight run stopped early (the account filled up, the laptop was shut),
and in the morning someone runs ``verify --report`` to see where things stand:
every message of the sources is missing from the server. Each must be named
(non-negotiable 5), so this is the largest report there is. For each count, a
generated mbox (``scale.generate``, 10 KB messages on average) is checked
against a fresh account of a private Dovecot, by the code of *before* and of
*after* (temporary worktrees: edits made while this runs do not mix in), each
a fresh process. Prints wall time, peak RSS (the child's own, ``wait4``) and
the size of what was written (verify.json, verify.csv).
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
from plan_versions import checkout  # noqa: E402
from scale import generate  # noqa: E402

BEFORE = "d6311cd"  # the last commit that held each missing message as an object


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="100000,1000000")
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    from tests.support.dovecot import Dovecot
    work = Path(tempfile.mkdtemp(prefix="mm-missing-", dir=args.dir))
    trees = {"before": checkout(args.before, work / "before"),
             "after": checkout(args.after, work / "after")}
    server = Dovecot("mbox")
    rows = []
    try:
        for n in (int(c) for c in args.counts.split(",")):
            source = work / "src" / f"Archive-{n}"
            source.parent.mkdir(exist_ok=True)
            generate(source, n, 10)
            for version, tree in trees.items():
                account = server.add_user()
                report = work / f"report-{n}-{version}"
                started = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "migrate", "verify", str(source),
                     *account.cli_args(), "--report", str(report)], cwd=tree,
                    env=dict(os.environ, MM_TEST_PASSWORD=account.password),
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - started
                code = os.waitstatus_to_exitcode(status)
                if code != 6:
                    raise SystemExit(f"verify by {version} exited {code}, not 6: "
                                     f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
                written = {p.name: p.stat().st_size for p in sorted(report.iterdir())}
                row = {"missing": n, "version": version, "seconds": seconds,
                       "peak RSS MB": usage.ru_maxrss / 1024,
                       **{f"{name} MB": size / 1e6 for name, size in written.items()
                          if name.endswith((".json", ".csv"))}}
                rows.append(row)
                print("  " + ", ".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}"
                                       for k, v in row.items()), flush=True)
                shutil.rmtree(report)
            source.unlink()
    finally:
        server.stop()
        for tree in trees.values():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    keys = sorted({k for r in rows for k in r}, key=lambda k: list(rows[-1]).index(k)
                  if k in rows[-1] else 99)
    print("\n| " + " | ".join(keys) + " |\n|" + " --- |" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{r[k]:,.1f}" if isinstance(r.get(k), float) else
                                f"{r[k]:,}" if isinstance(r.get(k), int) else str(r.get(k, ""))
                                for k in keys) + " |")


if __name__ == "__main__":
    main()
