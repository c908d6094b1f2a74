"""The daily upload budget: counted across runs, a clean stop (exit 8), exactly once.

Gmail takes about 500 MB a day by IMAP; past it, it refuses or crawls. The
run stops before a batch would pass the budget, after the batches in flight
are recorded, and says when it frees up; the same command continues then.
A clock 25 hours ahead stands in for the next day.
"""

from __future__ import annotations

import pytest

from migrate.budget import BudgetSpent
from migrate.errors import ExitCode
from migrate.state import State
from tests.support.budget_shared import MSGS, SIZE, inbox, run
from tests.support.builders import crlf
from tests.support.fake_target import FakeServer


def test_a_spent_budget_stops_cleanly_and_the_next_day_finishes_exactly_once(tmp_path):
    server = FakeServer()
    budget = SIZE // 3
    with pytest.raises(BudgetSpent) as stopped:
        run(tmp_path, server, budget)
    assert stopped.value.exit_code == ExitCode.STOPPED and "frees up at" in str(stopped.value)
    first = len(inbox(server))
    assert 0 < first < len(MSGS) and sum(map(len, inbox(server))) <= budget
    state = State(tmp_path / "state.sqlite")
    assert not state.inflight_batches("INBOX")  # what was sent is recorded
    state.close()

    appends = server.appends
    with pytest.raises(BudgetSpent):  # the same day: the budget is still spent (from the state)
        run(tmp_path, server, budget)
    assert server.appends == appends

    for day in (1, 2, 3):  # a day later, and the next: it goes on, never doubling
        try:
            run(tmp_path, server, budget, ahead=day * 25 * 3600)
            break
        except BudgetSpent:
            continue
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)


def test_waiting_for_the_budget_finishes_in_one_run(tmp_path):
    server = FakeServer()
    sleeps: list[float] = []
    run(tmp_path, server, SIZE // 2, wait=True, sleeps=sleeps)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)
    assert sleeps and max(sleeps) > 23 * 3600  # it waited for the day to pass


def test_a_session_ended_for_the_budget_is_a_clean_stop_not_a_broken_link(tmp_path):
    """Gmail past its daily budget answers "BYE Session expired": with a budget more
    than half spent, stop (exit 8), do not reconnect again and again; the next run
    resolves the batch that was in flight."""
    server = FakeServer()
    server.drop_on = {3: "bye-expired"}  # after 10 of 40 messages: 62% of the budget
    with pytest.raises(BudgetSpent) as stopped:
        run(tmp_path, server, budget=int(0.4 * SIZE))
    assert stopped.value.exit_code == ExitCode.STOPPED and "budget" in str(stopped.value)
    assert server.connections == 1  # no reconnect storm
    server.drop_on = {}
    run(tmp_path, server, budget=None)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)


@pytest.mark.parametrize("budget", [None, 100 * SIZE])
def test_a_session_expired_without_evidence_of_a_spent_budget_reconnects(tmp_path, budget):
    """Issue 34.13: "BYE Session expired" with no daily budget (--provider generic), or
    one barely touched, is an ordinary expiry: reconnect and go on, exactly once."""
    server = FakeServer()
    server.drop_on = {3: "bye-expired"}
    run(tmp_path, server, budget=budget)
    assert server.connections == 2
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)


def test_a_crawl_below_1_kb_s_is_the_budget_spent_and_the_rerun_finishes(tmp_path):
    """Past its budget Gmail may slow an account to a crawl instead of saying BYE: after
    crawl_seconds of waiting below 1 KB/s the run stops cleanly (exit 8), everything
    confirmed is recorded, and the next run finishes exactly once."""
    server = FakeServer()
    server.crawl_after, server.crawl_rate = 3, 600.0  # batches 3 on: ~600 bytes/s
    with pytest.raises(BudgetSpent, match="slowed the upload") as stopped:
        run(tmp_path, server, budget=10 * SIZE, crawl_seconds=1.0, batch_messages=1)
    assert stopped.value.exit_code == ExitCode.STOPPED
    assert 3 <= len(server.log) < 8  # stopped within a few slow batches
    server.crawl_after = None
    run(tmp_path, server, budget=10 * SIZE)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)


def test_a_slow_link_without_a_daily_budget_is_only_slow(tmp_path):
    server = FakeServer()
    server.crawl_after, server.crawl_rate = 6, 20_000.0
    run(tmp_path, server, budget=None, crawl_seconds=0.01)
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)


def test_with_wait_for_budget_the_providers_bye_waits_an_hour_and_goes_on(tmp_path):
    server = FakeServer()
    server.drop_on = {3: "bye-expired"}  # after 10 of 40 messages: 62% of the budget
    sleeps: list[float] = []
    run(tmp_path, server, budget=int(0.4 * SIZE), wait=True, sleeps=sleeps)
    assert 3600 in sleeps and server.connections == 2
    assert sorted(inbox(server)) == sorted(crlf(m) for m in MSGS)
