"""What must hold between the state database and the server (checked after runs).

* after a finished run: no batch in flight, and the rows our runs recorded
  (uploaded or found present) match the server's messages one to one: same
  mailbox, same UID, same bytes (content hash);
* at any moment, even right after a kill -9: every message the server holds
  in a migrated mailbox is in the state as uploaded, present or in flight (the
  journal entry is written before the APPEND is sent).
"""

from __future__ import annotations

import collections
import hashlib
import sqlite3
import urllib.parse
from pathlib import Path


def _rows(state: Path, sql: str, *params):
    uri = "file:" + urllib.parse.quote(Path(state).resolve().as_posix()) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10)  # a damaged state fails the test
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def assert_state_matches(state: Path, account, mailboxes) -> None:
    """After a finished run: nothing in flight; recorded rows == server messages."""
    assert _rows(state, "SELECT count(*) FROM batches")[0][0] == 0, "a batch is left in flight"
    assert _rows(state, "SELECT count(*) FROM messages WHERE status='inflight'")[0][0] == 0
    server = account.read_back()
    for mailbox in mailboxes:
        recorded = collections.Counter(
            (uid, h) for uid, h in _rows(
                state, "SELECT uid, content_hash FROM messages WHERE mailbox=? AND status IN "
                "('uploaded','present')", mailbox))
        held = collections.Counter((m.uid, hashlib.sha256(m.data).hexdigest())
                                   for m in server.get(mailbox, []))
        assert recorded == held, (
            f"{mailbox}: state and server differ: {sum((recorded - held).values())} rows "
            f"without their server message, {sum((held - recorded).values())} server messages "
            "without their row")


def assert_journaled(state: Path, account, mailboxes) -> None:
    """At any moment: whatever the server holds was journaled before it was sent."""
    server = account.read_back()
    for mailbox in mailboxes:
        known = {h for (h,) in _rows(
            state, "SELECT content_hash FROM messages WHERE mailbox=? AND status IN "
            "('uploaded','present','inflight')", mailbox)} if Path(state).exists() else set()
        for m in server.get(mailbox, []):
            assert hashlib.sha256(m.data).hexdigest() in known, (
                f"{mailbox} UID {m.uid} is on the server but not in the state journal")
