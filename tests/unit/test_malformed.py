"""Malformed input never crashes a run and never disappears: the unit tests
(tests/server/test_malformed.py has the rest, and says what they prove)."""

from __future__ import annotations

from tests.support.builders import message


def test_unreadable_message_file_is_reported(tmp_path):
    """A maildir file that cannot be opened is skipped with a reason, not fatal."""
    import pytest

    from migrate.sources import open_store
    root = tmp_path / "Maildir"
    (root / "cur").mkdir(parents=True)
    (root / "new").mkdir()
    (root / "cur" / "1:2,S").write_bytes(message("ok"))
    (root / "cur" / "2:2,S").symlink_to(tmp_path / "missing-target")
    store = open_store(root)
    msgs = [m for f in store.folders() for m in f.messages()]
    assert [m.skip_reason for m in msgs] == [None, "unreadable"] or \
        pytest.fail(f"got {[(m.location, m.skip_reason) for m in msgs]}")
