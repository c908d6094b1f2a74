"""Measure mbox read throughput and peak memory: this reader vs stdlib mailbox.

    python bench/read_throughput.py [--size-mb 1024] [--dir /tmp]

Writes a generated mboxrd file of realistic message sizes (log-normal, median
~8 KB, some attachments of a few MB), then, each in a fresh process, reads
every message's bytes with (a) migrate's streaming reader, (b) the same plus
the plan's hashing, and (c) the stdlib ``mailbox.mbox(...).get_bytes`` path
(the field notes' reference). Prints MB/s and peak RSS per method.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, size_mb: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    target = size_mb * 1024 * 1024
    written = n = 0
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\n"
    with open(path, "wb") as f:
        while written < target:
            size = int(min(rng.lognormvariate(9.0, 1.2), 8_000_000))
            body = line * max(1, size // len(line))
            if n % 97 == 0:
                body += b"From the body, a line that mboxrd quotes\n"
            head = (f"From sender@example.org Mon Jan  1 00:00:00 2001\n"
                    f"From: Sender <sender@example.org>\nTo: r@example.org\n"
                    f"Subject: message {n}\nMessage-ID: <{n}@bench>\n"
                    f"Date: Mon, 01 Jan 2001 00:00:00 +0000\n\n").encode()
            body = body.replace(b"\nFrom ", b"\n>From ")
            f.write(head + body + b"\n")
            written += len(head) + len(body) + 1
            n += 1
    return n


def measure(method: str, path: str) -> dict:
    import resource
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    count = total = 0
    if method == "stdlib-get_bytes":
        import mailbox
        box = mailbox.mbox(path, create=False)
        for key in box.iterkeys():
            data = box.get_bytes(key)
            count += 1
            total += len(data)
        box.close()
    else:
        from migrate.plan_rows import message_row
        from migrate.sources.mbox import MboxStore
        folder = MboxStore(Path(path)).folders()[0]
        for msg in folder.messages():
            if method == "migrate-plan":
                message_row(msg, body=False)  # as the plan reads an mbox (one process)
            count += 1
            total += len(msg.data)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": method, "messages": count, "seconds": round(elapsed, 2),
            "mb_per_s": round(os.path.getsize(path) / 1e6 / elapsed, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    path = Path(args.dir) / f"bench-{args.size_mb}mb.mbox"
    if not path.exists():
        n = generate(path, args.size_mb)
        print(f"generated {path}: {n} messages, {path.stat().st_size / 1e6:.0f} MB")
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL)  # warm the page cache
    results: dict[str, list[dict]] = {}
    for _ in range(args.repeat):  # interleaved, so machine noise hits every method alike
        for method in ("migrate-read", "migrate-plan", "stdlib-get_bytes"):
            out = subprocess.run([sys.executable, __file__, "--measure", method, str(path)],
                                 capture_output=True, text=True, check=True)
            results.setdefault(method, []).append(json.loads(out.stdout))
    for _method, runs in results.items():
        runs.sort(key=lambda r: r["mb_per_s"])
        median = runs[len(runs) // 2]
        print(json.dumps(dict(median, runs_mb_per_s=[r["mb_per_s"] for r in runs])))


if __name__ == "__main__":
    main()
