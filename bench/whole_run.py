"""The whole ``mailmigrate run`` as a user lives it, side by side in one run.

    python bench/whole_run.py [--messages 2000] [--mean-kb 80] [--delay 0.025] [--repeat 3]

A private Dovecot behind a latency proxy (``--delay`` seconds each way, in
its own process). The same generated messages (log-normal sizes, ~160 MB for
2,000 by default) are moved into fresh accounts by, interleaved per round:

* **mailmigrate run**: the whole command in a new process (start-up, plan,
  backup written and verified, upload, final check, summary), from an mbox;
* **raw writer**: the reference for what the server takes: pipelined
  MULTIAPPEND with LITERAL+ (50 per batch, 8 in flight), timed from the
  TCP connect;
* **mbsync** (isync), when installed: ``mbsync -a`` pushing a maildir of the
  same messages (a fresh sync state per round), as a whole command.

Then the no-op re-run: the same ``mailmigrate run`` again (nothing to do).
Prints seconds, messages/s, MB/s, and mailmigrate's share of the raw writer.

mailmigrate's modules are compiled first (``compileall``), as ``pip install``
leaves an installed package: this VM sets PYTHONDONTWRITEBYTECODE, so without
it every command compiled all its modules again (0.2 s of each start-up, which
no user's machine pays twice). ``--no-compile`` measures that case.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.upload_speed import raw_pipelined  # noqa: E402
from tests.support.builders import message, write_mbox  # noqa: E402
from tests.support.dovecot import Dovecot  # noqa: E402

HOUR_AGO = time.time() - 3600


def corpus(n: int, mean_kb: float, seed: int = 5) -> list[bytes]:
    """*n* messages, log-normal sizes (sigma 1) with the given mean, LF line ends."""
    rng = random.Random(seed)
    mu = __import__("math").log(mean_kb * 1024) - 0.5
    line = "The quick brown fox jumps over the lazy dog, again and again and again.\n"
    return [message(f"bench {i}", body=line * max(1, int(min(rng.lognormvariate(mu, 1.0),
                                                               8_000_000)) // len(line)),
                    msgid=f"<whole-{i}@example.org>") for i in range(n)]


def mailmigrate_run(account, port, mbox: Path, work: Path) -> tuple[float, float, str]:
    """(whole first run, no-op re-run, the re-run's summary) in new processes."""
    env = dict(os.environ, MM_TEST_PASSWORD=account.password)
    cmd = [sys.executable, "-m", "migrate", "run", str(mbox), "--host", "127.0.0.1",
           "--port", str(port), "--ca-file", str(account.server.ca_file), "--user", account.user,
           "--password-env", "MM_TEST_PASSWORD", "--backup-dir", str(work / "backup"),
           "--state", str(work / "state.sqlite"), "--yes"]
    return run_twice(cmd, env)


def run_twice(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds of *cmd*, then of the same again (a no-op re-run), and its stdout."""
    times, out = [], None
    for _ in range(2):
        t = time.perf_counter()
        out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
    return times[0], times[1], out.stdout


def start_up() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "migrate", "--version"], cwd=ROOT, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def mbsync_run(account, port, maildir: Path, work: Path) -> float | None:
    if not shutil.which("mbsync"):
        return None
    conf = work / "mbsyncrc"
    conf.write_text(f"""IMAPAccount bench
Host localhost
Port {port}
User {account.user}
Pass {account.password}
SSLType IMAPS
CertificateFile {account.server.ca_file}

IMAPStore far
Account bench

MaildirStore near
Path {maildir}/
Inbox {maildir}/INBOX

Channel bench
Far :far:
Near :near:
Patterns INBOX
Create Far
Sync Push New
SyncState {work}/mbsync-state/
""")
    (work / "mbsync-state").mkdir()
    conf.chmod(0o600)
    t = time.perf_counter()
    done = subprocess.run(["mbsync", "-c", str(conf), "-a", "-q"], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mbsync failed: {done.stderr.strip()}")
    return time.perf_counter() - t


def write_maildir(root: Path, msgs: list[bytes]) -> None:
    for part in ("cur", "new", "tmp"):
        (root / "INBOX" / part).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(msgs):
        (root / "INBOX" / "cur" / f"{1600000000 + i}.{i}.bench:2,S").write_bytes(m)


def forget_round(server, accounts, work: Path) -> None:
    """Delete a round's mail, backup and state: every round starts on the same machine.

    Kept, each round added ~700 MB of new files; on this VM a write into page
    cache beyond ~2 GB of it costs ten times more (171 MB: 0.04 s, then 0.5 s of
    system time, as the host backs fresh memory), which fell on whichever command
    wrote most in the later rounds (docs/performance.md, 2026-12-03)."""
    for account in accounts:
        shutil.rmtree(server.homes / account.user, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--mean-kb", type=float, default=80)
    ap.add_argument("--delay", type=float, default=0.025, help="one-way delay, seconds")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true",
                    help="leave mailmigrate's modules uncompiled (see above)")
    args = ap.parse_args()
    if not args.no_compile:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "migrate")],
                       check=True, stdout=subprocess.DEVNULL)
    startup = min(start_up() for _ in range(5))
    msgs = corpus(args.messages, args.mean_kb)
    work = Path(tempfile.mkdtemp(prefix="mm-whole-"))
    mbox = work / "INBOX.mbox"
    write_mbox(mbox, msgs)
    os.utime(mbox, (HOUR_AGO, HOUR_AGO))
    write_maildir(work / "maildir", msgs)
    crlf = [m.replace(b"\n", b"\r\n") for m in msgs]
    mb = sum(map(len, crlf)) / 1e6
    server = Dovecot("default")
    proxy_proc = subprocess.Popen([sys.executable, "-m", "tests.support.faults", str(server.imaps_port),
                                   str(args.delay)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    proxy = types.SimpleNamespace(port=int(proxy_proc.stdout.readline()), stop=proxy_proc.kill)
    rows: dict[str, list[float]] = {"mailmigrate run (whole command)": [],
                                    "raw pipelined MULTIAPPEND writer": [],
                                    "mbsync -a (whole command)": [],
                                    "mailmigrate run again (no-op)": []}
    summary = ""
    try:
        for i in range(args.repeat):
            (work / str(i)).mkdir()
            accounts = [server.add_user() for _ in range(3)]
            first, again, summary = mailmigrate_run(accounts[0], proxy.port, mbox,
                                                    work / str(i))
            rows["mailmigrate run (whole command)"].append(first)
            rows["mailmigrate run again (no-op)"].append(again)
            rows["raw pipelined MULTIAPPEND writer"].append(
                raw_pipelined(accounts[1], proxy.port, crlf))
            took = mbsync_run(accounts[2], proxy.port, work / "maildir", work / str(i))
            if took is not None:
                rows["mbsync -a (whole command)"].append(took)
            forget_round(server, accounts, work / str(i))
    finally:
        proxy.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.messages} messages, {mb:.0f} MB, round trip {2 * args.delay * 1000:.0f} ms, "
          f"medians of {args.repeat} interleaved rounds; start-up ('mailmigrate --version', "
          f"best of 5) {startup:.2f} s, modules {'not ' if args.no_compile else ''}compiled")
    for name, times in rows.items():
        if times:
            t = statistics.median(times)
            print(f"  {name:36s} {t:6.2f} s {args.messages / t:8.1f} msg/s {mb / t:7.2f} MB/s"
                  f"   (rounds: {', '.join(f'{x:.2f}' for x in times)})")
    ours, raw = rows["mailmigrate run (whole command)"], rows["raw pipelined MULTIAPPEND writer"]
    shares = [r / o for o, r in zip(ours, raw)]
    print(f"  mailmigrate run / raw writer: {', '.join(f'{s:.0%}' for s in shares)} "
          f"(median {statistics.median(shares):.0%})")
    noop = statistics.median(rows["mailmigrate run again (no-op)"])
    print(f"  no-op re-run: {noop / args.messages * 10000:.2f} s per 10,000 messages")
    print("\nthe no-op re-run's summary:\n" + summary)


if __name__ == "__main__":
    main()
