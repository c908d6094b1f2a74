"""Folder mapping on the real server: user rules, --into, case merges, non-ASCII names: the
functional tests (tests/server/test_mapping.py has the rest, and says what they prove)."""

from __future__ import annotations

from tests.support.builders import message, write_mbox


def test_map_rule_syntax_error_is_a_usage_error(tmp_path, mm):
    write_mbox(tmp_path / "m.mbox", [message("x")])
    r = mm("plan", tmp_path / "m.mbox", "--map", "no-equals-sign")
    assert r.code == 2 and "Old/Name=New/Name" in r.err


