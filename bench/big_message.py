"""Peak memory for one big message: a body of short lines and a header of one long
line, planned by mailmigrate, beside the stdlib reading the same bytes.

    python bench/big_message.py [--size-mb 200] [--dir /tmp]

Each measurement runs in a fresh process; the figure is its peak resident set
(Linux ru_maxrss, the largest process: the plan's worker included). The
reference, ``mailbox.mbox(...).get_bytes``, holds the message once plus its
own buffers: the least any reader can do. Issue 34.10 asks for about twice.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20


def write(path: Path, size: int, long_header: bool) -> None:
    with open(path, "wb") as f:
        f.write(b"From a@b Mon Jan  1 00:00:00 2020\nFrom: a@b\n")
        if long_header:
            f.write(b"X-Long: " + b"y" * size + b"\n")
        f.write(b"Subject: big\nMessage-ID: <big@x>\nDate: Mon, 1 Jan 2020 00:00:00 +0000\n\n")
        if not long_header:
            f.write((b"x" * 76 + b"\n") * (size // 77))
        f.write(b"end\n")


def peak(argv: list[str]) -> float:
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
             "stdout=subprocess.DEVNULL); print(max(resource.getrusage(resource.RUSAGE_CHILDREN)"
             ".ru_maxrss, 0))")
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return int(out.stdout.split()[-1]) * 1024 / MB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = {}
        for shape in ("body", "header line"):
            path = Path(tmp) / "big.mbox"
            write(path, size, shape == "header line")
            reference = peak([sys.executable, "-c", "import mailbox, sys; "
                              "box = mailbox.mbox(sys.argv[1], create=False); "
                              "[box.get_bytes(k) for k in box.keys()]", str(path)])
            plan = peak([sys.executable, "-m", "migrate", "plan", str(path)])
            results[shape] = {"message_mb": round(size / MB), "stdlib_get_bytes_mb":
                              round(reference), "mailmigrate_plan_mb": round(plan),
                              "plan_per_message": round(plan / (size / MB), 2)}
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
