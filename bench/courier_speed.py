"""Upload speed on a server without MULTIAPPEND and LITERAL+ (Courier), beside Dovecot.

    sudo python bench/courier_speed.py [--messages 400] [--delay 0.025] [--repeat 3]

Courier takes one message per APPEND and waits for each literal's "+": two
round trips a message on one connection. mailmigrate therefore shares each
mailbox over several connections there. This starts a private Courier-IMAP
and Dovecot (tests/support/courier.py, tests/support/dovecot.py; root, for Courier's mount
namespace), a latency proxy per server in its own process (``--delay``
seconds each way), and uploads the same messages into one mailbox with
mailmigrate's uploader: Courier with 1 and with 3 connections, Dovecot with
its pipelined MULTIAPPEND. Rounds are interleaved; medians are printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.upload_speed import corpus  # noqa: E402
from tests.support.builders import write_mbox  # noqa: E402
from tests.support.courier import Courier  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402


def latency_proxy(port: int, delay: float):
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.faults", str(port), str(delay)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return types.SimpleNamespace(port=int(proc.stdout.readline()), stop=proc.kill)


def upload(account, port, tls, msgs, work: Path, connections: int) -> float:
    """Seconds for mailmigrate's upload phase of *msgs* into INBOX."""
    from migrate.plan import build_plan
    from migrate.sources import open_store
    from migrate.state import State
    from migrate.target.imap import IMAPTarget, Secret, TargetConfig
    from migrate.upload import Uploader, UploadOptions
    work.mkdir(parents=True)
    write_mbox(work / "one.mbox", [m.replace(b"\r\n", b"\n") for m in msgs])
    config = TargetConfig(host="127.0.0.1", user=account.user, port=port, tls=tls,
                          ca_file=str(account.server.ca_file) if tls != "none" else None,
                          password=Secret(account.password))
    plan = build_plan([open_store(work / "one.mbox")])
    state = State(work / "state.sqlite")
    uploader = Uploader(lambda: IMAPTarget(config).connect(), state, plan,
                        UploadOptions(connections=connections))
    started = time.perf_counter()
    uploader.run()
    seconds = time.perf_counter() - started
    state.close()
    assert sum(uploader.outcome.uploaded.values()) == len(msgs)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--delay", type=float, default=0.025, help="one-way delay, seconds")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    msgs = corpus(args.messages)
    mb = sum(map(len, msgs)) / 1e6
    courier, dovecot = Courier(), Dovecot("default")
    c_proxy = latency_proxy(courier.imap_port, args.delay)
    d_proxy = latency_proxy(dovecot.imaps_port, args.delay)
    times: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.repeat):
                for name, server, proxy, tls, conns in (
                        ("Courier, 1 connection", courier, c_proxy, "none", 1),
                        ("Courier, 3 connections", courier, c_proxy, "none", 3),
                        ("Dovecot, pipelined MULTIAPPEND", dovecot, d_proxy, "ssl", 1)):
                    work = Path(tmp) / f"{i}-{len(times.get(name, []))}-{conns}-{name[:7]}"
                    times.setdefault(name, []).append(
                        upload(server.add_user(), proxy.port, tls, msgs, work, conns))
    finally:
        c_proxy.stop()
        d_proxy.stop()
        courier.stop()
        dovecot.stop()
    print(f"{args.messages} messages, {mb:.1f} MB, one mailbox, round trip "
          f"{2 * args.delay * 1000:.0f} ms (medians of {args.repeat} interleaved rounds)")
    for name, runs in times.items():
        t = sorted(runs)[len(runs) // 2]
        print(f"  {name:32s} {args.messages / t:7.1f} msg/s  {mb / t:6.2f} MB/s  ({t:.1f} s)")


if __name__ == "__main__":
    main()
