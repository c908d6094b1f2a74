"""The quick check: a folder unchanged since a run read it is not read again: the server
tests (tests/unit/test_quick_check.py has the rest, and says what they prove)."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.builders import crlf, message
from tests.support.quick_check_shared import sources


def test_a_no_op_rerun_reads_nothing_and_a_changed_mbox_uploads_only_its_new_message(
        tmp_path, account, mm):
    mbox, md = sources(tmp_path)
    args = (*account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
            tmp_path / "state.sqlite", "--yes", "--json")
    first = mm("run", mbox, md, *args, account=account)
    assert first.code == 0, first.out + first.err  # the trashed message stays behind: intent
    assert json.loads(first.out)["sources_read"].startswith("2 of 2 folders")
    backup = json.loads(first.out)["backup"]["archive"]
    again = mm("run", mbox, md, *args, account=account)
    summary = json.loads(again.out)
    assert summary["sources_read"].startswith("0 of 2 folders")
    assert summary["backup"]["archive"] == backup
    assert summary["totals"]["done"] == 7 and summary["missing"] == 0
    assert summary["final_check"] == {"by_uid": 7, "by_headers": 0}

    st = mbox.stat()
    with open(mbox, "ab") as f:
        f.write(b"From x@example.org Mon Jan  1 00:00:00 2001\n" + message("added"))
    os.utime(mbox, ns=(st.st_atime_ns, st.st_mtime_ns))  # only size and ctime tell
    third = mm("run", mbox, md, *args, account=account)
    summary = json.loads(third.out)
    assert summary["sources_read"].startswith("1 of 2 folders")
    assert summary["backup"]["archive"] != backup  # the gate saw the change too
    assert summary["totals"]["uploaded"] == 1 and summary["missing"] == 0
    server = account.read_back()
    assert sorted(m.data for m in server["Archive"]) == sorted(
        [crlf(message(f"m{i}", extra="X-Status: F" if i == 1 else "")) for i in range(5)]
        + [crlf(message("added"))])


@pytest.mark.parametrize("column, value", [("flags", "not json"), ("internaldate", "yesterday"),
                                           ("notes", "[unclosed")])
def test_a_hand_damaged_facts_row_is_exit_2_with_what_to_do(tmp_path, account, mm, column,
                                                           value):
    """The facts are a record the run trusts as it trusts its journal; one edited by hand
    is never a traceback: where it is read back it stops the command with exit 2 and the
    advice (--full-check), and with that advice the run finishes."""
    mbox, md = sources(tmp_path)
    args = (*account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
            tmp_path / "state.sqlite", "--yes")
    assert mm("run", mbox, *args, account=account).code == 0
    import sqlite3
    db = sqlite3.connect(tmp_path / "state.sqlite")
    with db:
        db.execute(f"UPDATE message_facts SET {column}=?", (value,))
    db.close()
    check = ("verify", mbox, *account.cli_args(), "--state", tmp_path / "state.sqlite")
    for again in (mm(*check, account=account),
                  mm("run", mbox, *args, "--since", "2000-01-01", account=account)):
        assert again.code in (0, 2) and "Traceback" not in again.err, again.err
        if again.code == 2:
            assert "--full-check" in again.err, again.err
    assert mm("run", mbox, *args, "--full-check", account=account).code == 0
    assert mm(*check, account=account).code == 0
    from migrate.plan import PlannedMessage
    from migrate.quickcheck import FactsDamaged, from_row
    row = [b"@0", "x", 1, "h", "k", "b", "", None, "[]", "[]", None, None, 0, 0]
    row[{"flags": 8, "internaldate": 7, "notes": 11}[column]] = value
    with pytest.raises(FactsDamaged, match="--full-check"):
        from_row(row, PlannedMessage)
