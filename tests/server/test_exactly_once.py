"""Exactly once, whatever happens: kill -9 at random points, connections cut mid-batch.

Each test ends by reading the whole account back and comparing it, message by
message, with what the sources say should be there.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.support.builders import crlf, message, write_mbox
from tests.support.faults import FaultProxy
from tests.support.invariants import assert_state_matches

UTC = dt.timezone.utc
SEED = int(os.environ.get("MM_FAULT_SEED", "7"))  # vary to explore other kill points


def make_store(root, sizes=(("Inbox", 500), ("Sent", 300), ("Archive.sbd/2019", 300))):
    rng = random.Random(42)
    flags_of = {"": frozenset(), "Status: RO": frozenset({"\\Seen"}),
                "Status: RO\nX-Status: A": frozenset({"\\Seen", "\\Answered"}),
                "X-Status: F": frozenset({"\\Flagged"})}
    expected = {}
    mailboxes = {"Inbox": "INBOX", "Sent": "Sent", "Archive.sbd/2019": "Archive/2019"}
    for name, count in sizes:
        msgs, dates, flags = [], [], []
        for i in range(count):
            status = rng.choice(sorted(flags_of))
            flags.append(flags_of[status])
            body = "".join(f"line {j} of message {i} in {name}\n"
                           for j in range(rng.randint(5, 60)))
            msgs.append(message(f"{name} {i}", body=body, extra=status))
            dates.append(dt.datetime(2015, 1, 1) + dt.timedelta(hours=7 * i + len(name)))
        write_mbox(root / name, msgs, dates)
        expected[mailboxes[name]] = [(crlf(m), d.replace(tzinfo=UTC), f)
                                     for m, d, f in zip(msgs, dates, flags)]
    return expected


def assert_exactly_once(account, expected, state=None):
    """Every expected message on the server once, bytes, flags and date; with *state*,
    the state database matches the server one to one (tests/support/invariants.py)."""
    server = account.read_back()
    for mailbox, want in expected.items():
        got = collections.Counter((m.data, m.internaldate, m.keyflags)
                                  for m in server.get(mailbox, []))
        assert got == collections.Counter(want), (
            f"{mailbox}: {sum(got.values())} on server, {len(want)} expected, "
            f"{sum((got - collections.Counter(want)).values())} extra, "
            f"{sum((collections.Counter(want) - got).values())} missing")
    for mailbox in server:
        if mailbox not in expected:
            assert server[mailbox] == [], mailbox
    if state is not None:
        assert_state_matches(state, account, expected)


def run_args(account, store, tmp_path, port=None, connections=1):
    args = ["run", store, *account.cli_args(port=port), "--backup-dir", tmp_path / "bk",
            "--state", tmp_path / "state.sqlite", "--yes", "--retry-backoff", "0.05",
            "--timeout", "10", "--connections", str(connections), "--settle-seconds", "1"]
    return [sys.executable, "-m", "migrate", *map(str, args)]


def env_for(account, tmp_path):
    env = dict(os.environ, MM_TEST_PASSWORD=account.password,
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    return env


def state_number(tmp_path, sql: str) -> int:
    """One number from the run's state database, read-only (0 if there is none yet)."""
    path = tmp_path / "state.sqlite"
    if not path.exists():
        return 0
    for _ in range(50):  # busy while the run writes: try again, never guess
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                n = db.execute(sql).fetchone()[0]
            finally:
                db.close()
            return n or 0
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return 0  # created but not yet migrated
            time.sleep(0.05)
    raise AssertionError(f"the state database {path} could not be read")


def inflight_rows(tmp_path) -> int:
    return state_number(tmp_path, "SELECT count(*) FROM messages WHERE status='inflight'")


def newest_inflight_batch(tmp_path) -> int:
    return state_number(tmp_path, "SELECT max(batch) FROM messages WHERE status='inflight'")


def kill_runs(cmd, env, delays, tmp_path, after_new_batch: bool = False):
    """Start the run, kill -9 it after each delay; return how many kills hit a batch in flight.

    With *after_new_batch* each delay counts from the moment the run journals a
    new batch, so the kills land inside batches whatever the start-up takes.
    """
    mid_batch = 0
    for delay in delays:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = newest_inflight_batch(tmp_path)
        deadline = time.monotonic() + 30
        while after_new_batch and proc.poll() is None and time.monotonic() < deadline:
            if newest_inflight_batch(tmp_path) > before:  # this run's batch is on its way
                break
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        mid_batch += inflight_rows(tmp_path) > 0
    return mid_batch


def finish(cmd, env):
    done = subprocess.run(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow
@pytest.mark.parametrize("connections,kills", [(1, 12), (3, 8)])
def test_kill_9_at_random_points_then_rerun(tmp_path, account, connections, kills):
    expected = make_store(tmp_path / "store")
    rng = random.Random(SEED + connections)
    env = env_for(account, tmp_path)
    cmd = run_args(account, tmp_path / "store", tmp_path, connections=connections)
    kills = [rng.uniform(0.3, 2.0) for _ in range(kills)]
    kill_runs(cmd, env, kills, tmp_path)
    finish(cmd, env)
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


@pytest.mark.slow
def test_kill_9_mid_batch_over_a_slow_link(tmp_path, account):
    """Latency makes every batch take a while, so the kills land inside batches."""
    expected = make_store(tmp_path / "store", sizes=(("Inbox", 1200), ("Sent", 800)))
    proxy = FaultProxy(account.server.imaps_port)
    proxy.delay = 0.02
    proxy.start()
    try:
        rng = random.Random(SEED + 4)
        env = env_for(account, tmp_path)
        cmd = run_args(account, tmp_path / "store", tmp_path, port=proxy.port)
        mid_batch = kill_runs(cmd, env, [rng.uniform(0.0, 0.1) for _ in range(10)], tmp_path,
                              after_new_batch=True)
        finish(cmd, env)
    finally:
        proxy.stop()
    # timed kills are a smoke test: tests/server/test_kill_points.py lands 20 kills exactly
    assert mid_batch >= 1, f"no kill of {10} hit a batch in flight"
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


@pytest.mark.slow
@pytest.mark.parametrize("connections", [1, 3])
def test_connection_cut_at_random_byte_offsets(tmp_path, account, connections):
    expected = make_store(tmp_path / "store")
    proxy = FaultProxy(account.server.imaps_port)
    proxy.cut_range = (3_000, 150_000)
    proxy.rng = random.Random(SEED)
    proxy.start()
    try:
        env = env_for(account, tmp_path)
        done = finish(run_args(account, tmp_path / "store", tmp_path, port=proxy.port,
                               connections=connections), env)
    finally:
        proxy.stop()
    assert proxy.cuts >= 10, proxy.cuts
    assert "reconnecting" in done.stderr
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


def test_rerun_after_complete_run_uploads_nothing_quickly(tmp_path, account):
    expected = make_store(tmp_path / "store")
    env = env_for(account, tmp_path)
    cmd = run_args(account, tmp_path / "store", tmp_path)
    finish(cmd, env)
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")  # the first run's state
    started = time.monotonic()
    again = finish(cmd, env)
    elapsed = time.monotonic() - started
    assert "moved now:              0" in again.stdout
    assert elapsed < 15, elapsed
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


def test_second_concurrent_run_is_refused(tmp_path, account):
    from migrate.errors import UsageError
    from migrate.lock import RunLock
    with RunLock(tmp_path / "state.sqlite.lock"):
        with pytest.raises(UsageError, match="another mailmigrate run"):
            RunLock(tmp_path / "state.sqlite.lock").acquire()
        make_store(tmp_path / "store", sizes=(("Inbox", 3),))
        done = subprocess.run(run_args(account, tmp_path / "store", tmp_path),
                              env=env_for(account, tmp_path), cwd=ROOT, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and "another mailmigrate run" in done.stderr
    assert account.read_back()["INBOX"] == []
