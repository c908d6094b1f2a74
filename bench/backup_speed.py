"""Backup throughput against a plain file copy on the same disk, and what gzip buys.

    python bench/backup_speed.py [--size-mb 1024] [--dir /tmp]

Generates an mbox of realistic compressibility (text bodies, and base64
attachments of random bytes, as photos and PDFs are already compressed), then
times: ``cp``; ``mailmigrate backup`` writing plain tar (archive + hashing), its
verification (re-read + hash), and the same with ``--compress`` (gzip level 1).
Each in a fresh process, page cache dropped where possible.
"""

from __future__ import annotations

import argparse
import base64
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, size_mb: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    words = "meeting invoice project thanks regards please attached report schedule".split()
    target = size_mb * 1024 * 1024
    written = 0
    with open(path, "wb") as f:
        n = 0
        while written < target:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(50, 800))).encode()
            parts = [b"From a@example.org Mon Jan  1 00:00:00 2001\nFrom: a@example.org\n"
                     b"Subject: m%d\nMIME-Version: 1.0\n"
                     b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" % n + text + b"\n"]
            if rng.random() < 0.3:
                blob = base64.encodebytes(rng.randbytes(int(rng.lognormvariate(11.5, 1.0))))
                parts.append(b"--b\nContent-Transfer-Encoding: base64\n\n" + blob)
            msg = b"".join(parts) + b"--b--\n\n"
            f.write(msg)
            written += len(msg)
            n += 1


def drop_caches() -> None:
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass  # not root, or not Linux: figures are with a warm cache


def timed(cmd: list[str]) -> float:
    drop_caches()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-backup-bench-", dir=args.dir))
    src = work / "src" / "store.mbox"
    src.parent.mkdir()
    generate(src, args.size_mb)
    mb = src.stat().st_size / 1e6
    py = [sys.executable, "-m", "migrate"]
    rows = {"cp": timed(["cp", str(src), str(work / "copy.mbox")])}
    rows["mailmigrate backup command (count + write + verify)"] = timed(
        py + ["backup", str(src), "--backup-dir", str(work / "bk0")])
    as_run = ("import sys; from pathlib import Path; from migrate.backup import create_backup; "
              "from migrate.sources import open_store; "
              "s = open_store(sys.argv[1]); create_backup([s], Path(sys.argv[2]), "
              "counts={str(s.path): {'messages': 0}})")
    rows["backup as run does it (write + verify)"] = timed(
        [sys.executable, "-c", as_run, str(src), str(work / "bk")])
    [archive] = (work / "bk").glob("*.tar")
    verify = ("import sys; from migrate.backup import verify_backup; "
              "verify_backup(sys.argv[1])")
    rows["  verify alone (re-read + hash)"] = timed([sys.executable, "-c", verify, str(archive)])
    rows["mailmigrate backup command --compress"] = timed(
        py + ["backup", str(src), "--backup-dir", str(work / "bkz"), "--compress"])
    [gz] = (work / "bkz").glob("*.tar.gz")
    print(f"source: {mb:.0f} MB mbox")
    for name, seconds in rows.items():
        print(f"  {name:48s} {seconds:6.1f} s  {mb / seconds:7.1f} MB/s")
    print(f"  tar size {archive.stat().st_size / 1e6:.0f} MB; tar.gz size {gz.stat().st_size / 1e6:.0f} MB "
          f"({gz.stat().st_size / archive.stat().st_size * 100:.0f}%)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
