"""Malformed input never crashes a run and never disappears."""

from __future__ import annotations

from tests.support.builders import message

MALFORMED = [
    message("nul byte", body="before\x00after\n"),
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary garbage \xff\xfe\n",
    message("absurd date", date="Fri, 31 Dec 9999 23:59:59 +0000"),
    b"Subject: broken headers\nthis line is not a header\nX-Bad: \xff\xfe\n\nbody\n",
    message("truncated", body="the multipart boundary never closes\n",
            extra="Content-Type: multipart/mixed; boundary=zzz"),
    message("fine"),
]


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
