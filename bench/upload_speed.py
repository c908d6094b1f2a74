"""Upload speed over a simulated WAN link, side by side in one run.

    python bench/upload_speed.py [--messages 2000] [--delay 0.025] [--naive 150]

Starts a private Dovecot and a latency proxy (``--delay`` seconds each way),
generates messages of realistic sizes (log-normal, median ~6 KB, capped at
1 MB), and uploads them into fresh accounts with:

* naive: ``imapclient.append()`` one message at a time (``--naive`` messages
  only: it is slow; its rate is extrapolated);
* mailmigrate: the real uploader (journal, batches, dedup checks), upload phase;
* raw pipelined MULTIAPPEND: a minimal writer that keeps several 50-message
  MULTIAPPEND commands with LITERAL+ in flight; the reference for "what the
  server takes".

Both mailmigrate and the raw writer are timed from the TCP connect (TLS and
login included); mailmigrate also checks and SELECTs the mailbox. The proxy
runs in its own process; rounds are interleaved and medians reported, because
this VM's speed varies from minute to minute.

Prints messages/s and MB/s for each, and the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.builders import message, write_mbox  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402

OPTIONS = types.SimpleNamespace(depth=None, batch=None, connections=1, mailboxes=1)


def corpus(n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    line = "The quick brown fox jumps over the lazy dog, again and again and again.\n"
    out = []
    for i in range(n):
        size = int(min(rng.lognormvariate(8.7, 1.0), 1_000_000))
        out.append(message(f"bench {i}", body=line * max(1, size // len(line)),
                           msgid=f"<bench-{i}@example.org>").replace(b"\n", b"\r\n"))
    return out


def naive(account, port, msgs) -> float:
    import imapclient
    ctx = ssl.create_default_context(cafile=str(account.server.ca_file))
    c = imapclient.IMAPClient("127.0.0.1", port, ssl=True, ssl_context=ctx)
    c.login(account.user, account.password)
    started = time.perf_counter()
    for m in msgs:
        c.append("INBOX", m, flags=[r"\Seen"], msg_time=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    elapsed = time.perf_counter() - started
    c.logout()
    return elapsed


def raw_pipelined(account, port, msgs, batch=50, window=8) -> float:
    """Timed from the TCP connect, like mailmigrate's upload phase."""
    started = time.perf_counter()
    ctx = ssl.create_default_context(cafile=str(account.server.ca_file))
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                           server_hostname="127.0.0.1")
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(f'a LOGIN "{account.user}" "{account.password}"\r\n'.encode())
    while not f.readline().startswith(b"a "):
        pass
    batches = [msgs[i:i + batch] for i in range(0, len(msgs), batch)]
    pending: list[bytes] = []
    done = 0

    def read_one():
        nonlocal done
        tag = pending.pop(0)
        while True:
            line = f.readline()
            if line.startswith(tag + b" "):
                assert line.split()[1] == b"OK", line
                done += 1
                return

    for n, chunk in enumerate(batches):
        tag = b"b%d" % n
        parts = [tag + b" APPEND INBOX"]
        for m in chunk:
            parts.append(b' (\\Seen) "01-Jan-2020 00:00:00 +0000" {%d+}\r\n' % len(m) + m)
        sock.sendall(b"".join(parts) + b"\r\n")
        pending.append(tag)
        if len(pending) >= window:
            read_one()
    while pending:
        read_one()
    elapsed = time.perf_counter() - started
    sock.sendall(b"z LOGOUT\r\n")
    sock.close()
    return elapsed


def mailmigrate_upload(account, port, msgs, work: Path) -> tuple[float, float]:
    from migrate.plan import build_plan
    from migrate.sources import open_store
    from migrate.state import State
    from migrate.target.imap import IMAPTarget, Secret, TargetConfig
    from migrate.upload import Uploader
    work.mkdir(parents=True, exist_ok=True)
    folders = max(1, OPTIONS.mailboxes)
    for i in range(folders):  # a tree of mbox files: one mailbox each
        write_mbox(work / "tree" / f"Folder{i}", [m.replace(b"\r\n", b"\n")
                                                 for m in msgs[i::folders]])
    config = TargetConfig(host="127.0.0.1", user=account.user, port=port,
                          ca_file=str(account.server.ca_file), password=Secret(account.password))
    t0 = time.perf_counter()
    target = IMAPTarget(config).connect()
    plan = build_plan([open_store(work / "tree")], target.layout)
    target.close()
    state = State(work / "bench-state.sqlite")
    uploader = Uploader(lambda: IMAPTarget(config).connect(), state, plan)
    uploader.options.pipeline_depth = OPTIONS.depth or uploader.options.pipeline_depth
    uploader.options.batch_messages = OPTIONS.batch or uploader.options.batch_messages
    uploader.options.connections = OPTIONS.connections
    t1 = time.perf_counter()
    uploader.run()
    t2 = time.perf_counter()
    state.close()
    assert sum(uploader.outcome.uploaded.values()) == len(msgs)
    return t2 - t1, t2 - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--naive", type=int, default=150)
    ap.add_argument("--delay", type=float, default=0.025, help="one-way delay, seconds")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--depth", type=int, help="mailmigrate pipeline depth (default: its own)")
    ap.add_argument("--batch", type=int, help="mailmigrate batch size (default: its own)")
    ap.add_argument("--connections", type=int, default=1, help="mailmigrate connections")
    ap.add_argument("--mailboxes", type=int, default=1, help="spread the messages over N")
    args = ap.parse_args()
    OPTIONS.depth, OPTIONS.batch = args.depth, args.batch
    OPTIONS.connections, OPTIONS.mailboxes = args.connections, args.mailboxes
    msgs = corpus(args.messages)
    mb = sum(len(m) for m in msgs) / 1e6
    work = Path(tempfile.mkdtemp(prefix="mm-bench-"))
    server = Dovecot("default")
    # the proxy runs in its own process, so it does not share a GIL with the clients
    proxy_proc = subprocess.Popen([sys.executable, "-m", "tests.support.faults", str(server.imaps_port),
                                   str(args.delay)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    proxy = types.SimpleNamespace(port=int(proxy_proc.stdout.readline()), stop=proxy_proc.kill)
    try:
        rows = []
        n_naive = msgs[: args.naive]
        t = naive(server.add_user(), proxy.port, n_naive)
        rows.append(("naive imapclient.append()", len(n_naive), sum(map(len, n_naive)) / 1e6, t))
        ours, total, raw = [], [], []
        for i in range(args.repeat):  # interleaved: the VM's noise hits both alike
            t_up, t_all = mailmigrate_upload(server.add_user(), proxy.port, msgs, work / str(i))
            ours.append(t_up)
            total.append(t_all)
            raw.append(raw_pipelined(server.add_user(), proxy.port, msgs))
        ratios = sorted(r / o for o, r in zip(ours, raw))
        rows.append(("mailmigrate (upload phase)", len(msgs), mb, sorted(ours)[len(ours) // 2]))
        rows.append(("mailmigrate (plan + upload)", len(msgs), mb, sorted(total)[len(total) // 2]))
        rows.append(("raw pipelined MULTIAPPEND", len(msgs), mb, sorted(raw)[len(raw) // 2]))
    finally:
        proxy.stop()
        server.stop()
    print(f"{args.messages} messages, {mb:.1f} MB, round trip {2 * args.delay * 1000:.0f} ms")
    rates = {}
    for name, n, size, seconds in rows:
        rates[name] = n / seconds
        print(f"  {name:30s} {n / seconds:8.1f} msg/s {size / seconds:7.2f} MB/s  ({n} in {seconds:.1f} s)")
    ours = rates["mailmigrate (upload phase)"]
    print(f"  (medians of {args.repeat} interleaved rounds)")
    print(f"  mailmigrate / naive: {ours / rates['naive imapclient.append()']:.1f}x")
    print(f"  mailmigrate / raw pipelined, per round: "
          f"{', '.join(f'{r * 100:.0f}%' for r in ratios)} (median {ratios[len(ratios) // 2] * 100:.0f}%)")


if __name__ == "__main__":
    main()
