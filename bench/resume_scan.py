"""Cost of a no-op re-run: 20,000 messages already migrated, nothing left to do.

    python bench/resume_scan.py [--messages 20000]

Starts a private Dovecot (as the tests do), migrates a generated mbox once,
then times the same ``mailmigrate run`` again as a whole, and its phases
in-process: the backup gate (hashing the sources), the plan (reading and
hashing every message), the state lookup, and the final verification (one
header fetch per 2,000 messages).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.whole_run import run_twice  # noqa: E402
from tests.support.builders import message, write_mbox  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mm-resume-"))
    n = args.messages
    write_mbox(work / "big.mbox", [message(f"message {i}", body=f"body {i}\n" * 40)
                                   for i in range(n)])
    old = time.time() - 3600  # an old mailbox, as users have (a fresh file is re-read: racy)
    os.utime(work / "big.mbox", (old, old))
    server = Dovecot("default")
    try:
        account = server.add_user()
        env = dict(os.environ, MM_TEST_PASSWORD=account.password)
        cmd = [sys.executable, "-m", "migrate", "run", str(work / "big.mbox"),
               *account.cli_args(), "--backup-dir", str(work / "bk"),
               "--state", str(work / "state.sqlite"), "--yes"]
        first, rerun, out = run_twice(cmd, env)
        assert "uploaded now:        0" in out, out

        from migrate import backup
        from migrate.plan import build_plan
        from migrate.sources import open_store
        from migrate.state import State
        from migrate.target.imap import IMAPTarget, Secret, TargetConfig
        from migrate.upload import Uploader
        phases = {}
        stores = [open_store(work / "big.mbox")]
        t = time.perf_counter()
        assert backup.find_verified_backup(stores, work / "bk")
        phases["backup gate (hash sources)"] = time.perf_counter() - t
        config = TargetConfig(host="127.0.0.1", user=account.user, port=server.imaps_port,
                              ca_file=str(server.ca_file), password=Secret(account.password))
        t = time.perf_counter()
        target = IMAPTarget(config).connect()
        phases["connect + login"] = time.perf_counter() - t
        t = time.perf_counter()
        plan = build_plan(stores, target.layout)
        phases["plan (read + hash every message)"] = time.perf_counter() - t
        state = State(work / "state.sqlite")
        up = Uploader(lambda: IMAPTarget(config).connect(), state, plan)
        t = time.perf_counter()
        up.run()
        phases["state lookup (nothing to send)"] = time.perf_counter() - t
        t = time.perf_counter()
        checks = up.verify()
        phases["verification (header fetch)"] = time.perf_counter() - t
        assert not any(c.missing for c in checks)
        target.close()
        size = (work / "big.mbox").stat().st_size / 1e6
        print(f"{n} messages, {size:.0f} MB mbox, Dovecot on loopback")
        print(f"first run (upload): {first:.1f} s")
        print(f"no-op re-run, whole command: {rerun:.1f} s "
              f"({rerun / n * 10000:.2f} s per 10,000 messages)")
        for name, seconds in phases.items():
            print(f"  {name}: {seconds:.2f} s ({seconds / n * 10000:.2f} s per 10,000)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
