"""One mbox file into INBOX of a real Dovecot: bytes, flags, dates, and a read-only source:
the functional tests (tests/server/test_end_to_end.py has the rest, and says what they
prove)."""

from __future__ import annotations

from tests.support.end_to_end_shared import sample_mbox


def test_plan_without_server(tmp_path, mm):
    sample_mbox(tmp_path / "one.mbox")
    r = mm("plan", tmp_path / "one.mbox")
    assert r.code == 0, r.err
    lines = [line.split() for line in r.out.splitlines()]
    total = next(line for line in lines if line and line[0] == "TOTAL")
    assert total[1] == "6"  # messages
    assert "deleted" in r.out


