"""The dry-run plan and its reports, and verify: what people read before and after cutover:
the unit tests (tests/server/test_plan_report.py has the rest, and says what they
prove)."""

from __future__ import annotations

from migrate.estimate import estimate
from tests.support.builders import message, write_mbox


def test_estimate_is_a_range_that_grows_with_the_work():
    small = estimate(100, 5_000_000, 2, 0.05, 2_000_000)
    large = estimate(10_000, 500_000_000, 2, 0.05, 2_000_000)
    assert 0 < small.low_seconds < small.high_seconds < large.low_seconds < large.high_seconds
    assert large.low_seconds >= 250  # 500 MB at 2 MB/s cannot be quicker
    slow = estimate(100, 5_000_000, 2, 0.05, None, pipelining=False, multiappend=False)
    assert slow.low_seconds >= 200 * 0.05 / 2 and "assumed 1 MB/s" in slow.assumptions[0]
    gmail = estimate(10_000, 1_500_000_000, 3, 0.05, 50_000_000, host="imap.gmail.com")
    assert gmail.low_seconds >= 2.9 * 86400 and "a day" in gmail.assumptions[-1]
    assert estimate(0, 0, 0, 0.05, None).high_seconds == 0


def test_lines_too_long_for_the_provider_are_refused_in_plan_and_run(tmp_path):
    """Office 365 refuses lines over ~10,000 characters: planned as refused, with the reason."""
    from migrate.plan import REFUSE, UPLOAD, ServerLimits, apply_server_view, build_plan
    from migrate.sources import open_store
    msgs = [message("short"), message("long", body="y" * 12_000 + "\n")]
    write_mbox(tmp_path / "one.mbox", msgs)
    plan = build_plan([open_store(tmp_path / "one.mbox")])
    apply_server_view(plan.folders, None, None, ServerLimits(line_limit=9_998))
    actions = [(p.action, p.reason) for p in plan.folders[0].messages]
    assert actions[0] == (UPLOAD, None)
    assert actions[1][0] == REFUSE and "line of 12000 characters" in actions[1][1]
    from migrate.target.imap import IMAPTarget, TargetConfig
    assert IMAPTarget(TargetConfig("outlook.office365.com", "u")).line_limit == 9_998
    assert IMAPTarget(TargetConfig("imap.example.org", "u")).line_limit is None


def test_longest_line_is_exact_where_it_matters_and_cheap_elsewhere():
    from hypothesis import given
    from hypothesis import strategies as st

    from migrate.plan_rows import LONG_LINE, longest_line

    @given(st.lists(st.integers(0, 13_000), min_size=1, max_size=8))
    def check(lengths):
        data = b"\r\n".join(b"a" * n for n in lengths)
        found = longest_line(data)
        if max(lengths) >= LONG_LINE:
            assert found == max(lengths)
        else:
            assert found in (0, max(lengths))
    check()


