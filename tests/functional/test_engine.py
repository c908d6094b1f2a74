"""The upload engine on an in-memory target (tests/support/fake_target.py): seconds, not
minutes: the functional tests (tests/unit/test_engine.py has the rest, and says what
they prove)."""

from __future__ import annotations

import pytest

from migrate import verify
from migrate.plan import build_plan
from migrate.sources import open_store
from migrate.target.base import AppendItem
from migrate.verify import verify_plan
from tests.support.builders import crlf
from tests.support.engine_shared import store
from tests.support.fake_target import FakeServer, FakeTarget


@pytest.mark.functional  # memory at scale
def test_verify_of_many_messages_holds_a_page_of_them_not_all(tmp_path, monkeypatch):
    """The full check compares every message with the server's copies; it held every
    message not found by UID as an object (all of them without a state: ~600 bytes
    each, a million made GBs). It now holds their refs and reads a page at a time."""
    import tracemalloc

    from migrate import reconcile
    n = 12_000
    path, msgs = store(tmp_path, n)
    server = FakeServer()
    for i in range(0, n, 500):
        server.receive("INBOX", [AppendItem(crlf(m), (), None) for m in msgs[i:i + 500]])
    plan = build_plan([open_store(path)], server.layout)
    monkeypatch.setattr(reconcile, "FETCH_PAGE", 500)
    target = FakeTarget(server)
    tracemalloc.start()
    try:
        [check] = verify_plan(target, plan)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert check.expected == n and not check.missing and check.matched_by == {"headers": n}
    assert peak < 8 << 20, peak  # 20 MB when every message not found by UID was held


@pytest.mark.functional  # memory at scale
def test_the_survey_of_many_messages_ours_without_uids_holds_a_page_of_them(tmp_path,
                                                                             monkeypatch):
    """A re-run's plan claims the server copies of what earlier runs sent: by UID, or
    by the rule when no UID was recorded (a server without UIDPLUS). Those were all
    held as objects; they are refs now, read back a page per pass."""
    import tracemalloc

    from migrate import reconcile
    from migrate.plan import DONE, UPLOAD, apply_server_view
    n = 12_000
    path, msgs = store(tmp_path, n)
    server = FakeServer(capabilities=("MULTIAPPEND",))
    for i in range(0, n - 1, 500):  # all but the last arrived in earlier runs
        server.receive("INBOX", [AppendItem(crlf(m), (), None) for m in msgs[i:min(i + 500, n - 1)]])
    plan = build_plan([open_store(path)], server.layout)
    [fplans] = plan.by_target().values()
    last = [h for page in fplans[0].messages.light() for _, h, _ in page][-1]
    target = FakeTarget(server)
    target.select("INBOX")
    monkeypatch.setattr(reconcile, "FETCH_PAGE", 500)
    tracemalloc.start()
    try:
        apply_server_view(fplans, target, lambda hashes: {h: (None, None) for h in hashes
                                                          if h != last})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fplans[0].messages.counts() == {DONE: n - 1, UPLOAD: 1}
    assert peak < 8 << 20, peak  # 19 MB when they were held as objects


@pytest.mark.functional  # memory at scale
def test_verify_names_every_missing_message_in_flat_memory(tmp_path, monkeypatch):
    """A run that stopped early, then ``verify --report``: every message of a folder
    missing. Each was an object, a dict of its headers and a JSON row (3 GB at a
    million messages); now refs: verify.json names the first DETAIL_LIMIT and the
    CSV every one, written as the source is re-read, holding nothing per message
    read (a dict kept a mark per message: 90 MB at a million)."""
    import csv
    import tracemalloc
    monkeypatch.setattr(verify, "DETAIL_LIMIT", 100)
    n = 16_000
    path, msgs = store(tmp_path, n, name="Sent.mbox")  # the server has no Sent yet
    server = FakeServer()
    plan = build_plan([open_store(path)], server.layout)
    tracemalloc.start()
    try:
        checks = verify_plan(FakeTarget(server), plan, describe_server=True)
        result = verify.check_report(checks)
        held = {}
        for i, _ in enumerate(verify.named_rows(checks[0], "missing")):
            if i in (3_000, n - 1):
                held[i] = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert held[n - 1] - held[3_000] < 200_000, held  # 0.8 MB more with the per-message dict
    assert peak < 8 << 20, peak  # 23 MB when every missing message was an object
    [box] = result["mailboxes"]
    assert result["missing"] == n and box["missing_count"] == n and not box["exists"]
    assert [r["subject"] for r in box["missing"]] == [f"m{i}" for i in range(100)]
    assert verify.write_csv(checks, tmp_path / "verify.csv") == n
    with open(tmp_path / "verify.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["subject"] for r in rows] == [f"m{i}" for i in range(n)]
    assert {r["problem"] for r in rows} == {"missing"} and rows[5]["source"] == \
        list(plan.folders[0].messages)[5].location


