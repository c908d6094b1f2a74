"""What the backup gate's per-run archive check costs (docs/backup.md).

    python bench/gate_check.py [--size-mb 1024] [--dir /tmp]

On a generated mbox (bench/backup_speed.py's generator), writes a backup, then
times, in this process: the per-run archive check that ``load_backup`` does on
every run (stat of the archive, read of its ``.verified`` marker, compared
with the identity recorded at verification), the whole gate as ``run`` passes
it (``find_verified_backup``: it also hashes the current sources to prove they
are what the backup holds), and, as the reference, the full re-verification
that ``--use-backup`` and ``restore`` do (re-read and hash the archive).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backup_speed import generate

from migrate import backup
from migrate.sources import open_store


def best_of(n, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src = Path(tmp) / "big.mbox"
        generate(src, args.size_mb)
        stores = [open_store(src)]
        t = time.perf_counter()
        result = backup.create_backup(stores, Path(tmp) / "bk", counts={str(src): {}})
        write = time.perf_counter() - t
        check = best_of(1000, lambda: backup.load_backup(result.archive))
        gate = best_of(3, lambda: backup.find_verified_backup([open_store(src)], Path(tmp) / "bk"))
        full = best_of(1, lambda: backup.verify_backup(result.archive, mark=False))
        print(f"store: {src.stat().st_size / 1e6:.0f} MB mbox")
        print(f"backup written and verified: {write:.2f} s")
        print(f"per-run archive check (stat + marker): {check * 1e6:.0f} us "
              f"({check / write * 100:.4f}% of writing the backup)")
        print(f"whole gate of a run (hash sources + check): {gate:.2f} s")
        print(f"full re-verification (--use-backup, restore): {full:.2f} s")


if __name__ == "__main__":
    main()
