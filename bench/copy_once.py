"""What uploading once and copying on the server saves, measured at the wire.

    python bench/copy_once.py [--messages 500] [--mean-kb 80] [--delay 0.025] [--repeat 3]

Two stores that put the same number of messages into the same two folders
(Inbox and Archive, ``--messages`` each), moved by the whole ``mailmigrate
run`` into fresh accounts of a private Dovecot, interleaved per round:

* **filed twice**: the same messages in both folders (a POP user's filed
  copies): each is APPENDed once and placed in the other folder by UID COPY;
* **all different**: as many different messages of the same sizes: every
  one is APPENDed.

The client talks plaintext to a latency proxy (its own process, ``--delay``
seconds each way), which forwards to ``tests.support.faults.GmailProxy`` (no limits
set: it only counts the APPEND bytes that reach the server) in front of
Dovecot. Prints seconds and APPEND bytes per store (medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.whole_run import corpus  # noqa: E402
from tests.support.builders import write_mbox  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402
from tests.support.faults import GmailProxy  # noqa: E402

HOUR_AGO = time.time() - 3600


def stores(work: Path, n: int, mean_kb: float) -> dict[str, Path]:
    msgs = corpus(2 * n, mean_kb)
    first, second = msgs[:n], msgs[n:]
    layouts = {"filed twice": (first, first), "all different": (first, second)}
    out = {}
    for name, (inbox, archive) in layouts.items():
        root = work / name.replace(" ", "-")
        write_mbox(root / "Inbox", inbox)
        write_mbox(root / "Archive", archive)
        for p in (root / "Inbox", root / "Archive"):
            os.utime(p, (HOUR_AGO, HOUR_AGO))
        out[name] = root
    return out


def latency_proxy(port: int, delay: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.faults", str(port), str(delay)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def one_run(server: Dovecot, store: Path, delay: float, work: Path) -> tuple[float, int]:
    account = server.add_user()
    counter = GmailProxy(server.imap_port, max_logins=1000).start()
    proc, port = latency_proxy(counter.port, delay)
    try:
        env = dict(os.environ, MM_TEST_PASSWORD=account.password)
        cmd = [sys.executable, "-m", "migrate", "run", str(store), "--host", "127.0.0.1",
               "--port", str(port), "--tls", "none", "--user", account.user,
               "--password-env", "MM_TEST_PASSWORD", "--backup-dir", str(work / "backup"),
               "--state", str(work / f"{account.user}.sqlite"), "--yes"]
        started = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - started, counter.appended
    finally:
        proc.kill()
        counter.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--mean-kb", type=float, default=80)
    ap.add_argument("--delay", type=float, default=0.025)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    server = Dovecot()
    try:
        with tempfile.TemporaryDirectory(prefix="mm-copy-once-") as tmp:
            work = Path(tmp)
            found = {name: [] for name in ("filed twice", "all different")}
            for name, root in stores(work, args.messages, args.mean_kb).items():
                print(f"{name}: {2 * args.messages} messages placed, "
                      f"{sum(p.stat().st_size for p in root.iterdir()) / 1e6:.1f} MB of mbox")
            roots = stores(work, args.messages, args.mean_kb)
            for _ in range(args.repeat):
                for name, root in roots.items():
                    found[name].append(one_run(server, root, args.delay, work))
            print(f"\n{args.messages} messages in each of two folders, "
                  f"{args.delay * 2000:.0f} ms round trip, medians of {args.repeat}:")
            print("| store | seconds | APPEND bytes at the server |")
            print("| --- | --- | --- |")
            for name, rounds in found.items():
                seconds = statistics.median(s for s, _ in rounds)
                sent = statistics.median(b for _, b in rounds)
                print(f"| {name} | {seconds:.2f} | {sent / 1e6:.1f} MB |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
