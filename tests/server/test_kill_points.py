"""kill -9 at exact points of an APPEND, not on a timer: each kill must land where meant.

A proxy (tests/support/faults.py KillProxy) reads the plaintext IMAP stream and kills
the mailmigrate process at a named point of the 3rd APPEND/MULTIAPPEND: after
the command line, in the middle of a literal, after its last byte, when the
server's answer arrives (held back), and right after the answer is forwarded.
With one and three connections, with pipelining (LITERAL+) and without: 20
kill points a run. After each kill: everything the server holds was
journaled; after the re-run: every message exactly once, and the state matches
the server one to one.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.server.test_exactly_once import assert_exactly_once, env_for, finish, make_store
from tests.support.faults import KILL_POINTS, KillProxy
from tests.support.invariants import assert_journaled

SIZES = (("Inbox", 40), ("Sent", 40), ("Archive.sbd/2019", 40))
MAILBOXES = ("INBOX", "Sent", "Archive/2019")
LANDED: list[str] = []


def command(account, store, tmp_path, port, connections):
    args = ["run", store, *account.cli_args(tls="none", port=port), "--backup-dir",
            tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
            "--retry-backoff", "0.05", "--timeout", "10", "--connections", str(connections),
            "--settle-seconds", "1", "--batch-size", "10"]
    return [sys.executable, "-m", "migrate", *map(str, args)]


def kill_then_rerun(account, tmp_path, proxy, expected, connections) -> None:
    """Run against *proxy* (a started KillProxy) until it kills the run; then everything
    on the server was journaled, and after a direct re-run every message is there
    exactly once and the state matches the server."""
    env = env_for(account, tmp_path)
    try:
        proc = subprocess.Popen(command(account, tmp_path / "store", tmp_path, proxy.port,
                                        connections),
                                env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        proxy.victim = proc.pid
        _, err = proc.communicate(timeout=120)
    finally:
        proxy.stop()
    assert proxy.landed == proxy.point, \
        f"the kill did not land ({proxy.appends} commands seen): {err}"
    assert proc.returncode == -signal.SIGKILL
    assert_journaled(tmp_path / "state.sqlite", account, expected)
    direct = command(account, tmp_path / "store", tmp_path, account.server.imap_port,
                     connections)
    finish(direct, env)
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


@pytest.mark.parametrize("literal_plus", [True, False], ids=["pipelined", "synchronous"])
@pytest.mark.parametrize("connections", [1, 3])
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_at_a_protocol_point_then_rerun(tmp_path, account, point, connections,
                                             literal_plus):
    expected = make_store(tmp_path / "store", sizes=SIZES)
    proxy = KillProxy(account.server.imap_port, point, nth=3, literal_plus=literal_plus).start()
    kill_then_rerun(account, tmp_path, proxy, expected, connections)
    LANDED.append(point)
