"""Memory and speed against the number of messages: the curve, in one run.

    python bench/scale.py [--counts 10000,100000,1000000] [--mean-kb 10] [--run-upto 100000]
                          [--dir /var/tmp] [--crlf]

For each count, generates an mbox of that many messages (log-normal sizes,
``--mean-kb`` on average: 1,000,000 x 10 KB is a 10 GB file, written to
``--dir`` and deleted afterwards; ``--crlf``: with CRLF line ends, as
Thunderbird writes on Windows), then measures, each in a fresh process:

* SHA-256 of the whole file by Python's hashlib (OpenSSL): reading and hashing
  every byte once, the reference for what reading each byte costs here;
* ``mailmigrate plan FILE``: wall time, MB/s and peak RSS;
* ``mailmigrate run`` into a private Dovecot on loopback (counts up to
  ``--run-upto``): wall time and peak RSS, then the same command again
  (the no-op re-run) with its time per 10,000 messages.

Peak RSS is the child's own maximum resident set (``wait4``), not the
benchmark's.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOUR_AGO = time.time() - 3600
SHA256_FILE = ("import hashlib, sys\nh = hashlib.sha256()\nwith open(sys.argv[1], 'rb') as f:\n"
               "    for block in iter(lambda: f.read(1 << 20), b''):\n        h.update(block)")


def generate(path: Path, n: int, mean_kb: float, seed: int = 11, crlf: bool = False,
             first: int = 0) -> None:
    """*n* messages numbered from *first* (their Message-IDs and subjects)."""
    rng = random.Random(seed)
    mu = math.log(mean_kb * 1024) - 0.5
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\n"
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(first, first + n):
            size = int(min(rng.lognormvariate(mu, 1.0), 4_000_000))
            head = (f"From sender@example.org Mon Jan  1 00:00:00 2001\n"
                    f"From: Sender {i % 97} <sender{i % 97}@example.org>\nTo: r@example.org\n"
                    f"Subject: message {i}\nMessage-ID: <{i}.scale@example.org>\n"
                    f"Date: Mon, 01 Jan 2001 00:{i // 60 % 60:02d}:{i % 60:02d} +0000\n\n").encode()
            data = head + line * max(1, size // len(line)) + b"\n"
            f.write(data.replace(b"\n", b"\r\n") if crlf else data)
    os.utime(path, (HOUR_AGO, HOUR_AGO))


def measure(cmd: list[str], env=None) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of *cmd* in a fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="10000,100000,1000000")
    ap.add_argument("--mean-kb", type=float, default=10)
    ap.add_argument("--run-upto", type=int, default=100000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--crlf", action="store_true", help="CRLF line ends (Windows files)")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    work = Path(tempfile.mkdtemp(prefix="mm-scale-", dir=args.dir))
    server = None
    rows = []
    try:
        for n in counts:
            mbox = work / f"m{n}.mbox"
            t = time.perf_counter()
            generate(mbox, n, args.mean_kb, crlf=args.crlf)
            size = mbox.stat().st_size / 1e6
            print(f"{n} messages: {size:,.0f} MB mbox written in {time.perf_counter() - t:.0f} s",
                  flush=True)
            sha, _, _ = measure([sys.executable, "-c", SHA256_FILE, str(mbox)])
            plan, plan_rss, _ = measure([sys.executable, "-m", "migrate", "plan", str(mbox)])
            row = {"messages": n, "mb": size, "SHA-256 MB/s": size / sha, "plan s": plan,
                   "plan MB/s": size / plan, "plan RSS MB": plan_rss}
            if n <= args.run_upto:
                if server is None:
                    from tests.support.dovecot import Dovecot
                    # Dovecot's default vsz_limit (256M) cannot open a maildir folder of a
                    # million messages: the run's final check was lost at SELECT every time
                    server = Dovecot("default", vsz_limit="2G")
                account = server.add_user()
                env = dict(os.environ, MM_TEST_PASSWORD=account.password)
                cmd = [sys.executable, "-m", "migrate", "run", str(mbox), *account.cli_args(),
                       "--backup-dir", str(work / f"bk{n}"), "--state",
                       str(work / f"state{n}.sqlite"), "--yes"]
                row["run s"], row["run RSS MB"], _ = measure(cmd, env)
                again, again_rss, _ = measure(cmd, env)
                row["no-op re-run s"], row["no-op RSS MB"] = again, again_rss
                row["no-op s per 10k"] = again / n * 10000
                shutil.rmtree(work / f"bk{n}", ignore_errors=True)
            rows.append(row)
            print("  " + ", ".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v:,}"
                                   for k, v in row.items()), flush=True)
            mbox.unlink()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("\n| " + " | ".join(keys) + " |\n|" + " --- |" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{r[k]:,.1f}" if isinstance(r.get(k), float) else
                                f"{r.get(k, ''):,}" if isinstance(r.get(k), int) else ""
                                for k in keys) + " |")


if __name__ == "__main__":
    main()
