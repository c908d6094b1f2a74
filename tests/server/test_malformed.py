"""Malformed input never crashes a run and never disappears."""

from __future__ import annotations

import json

from migrate.headers import to_crlf
from tests.support.builders import message, write_mbox
from tests.support.malformed_shared import MALFORMED


def test_malformed_messages_are_uploaded_or_reported(tmp_path, account, mm):
    write_mbox(tmp_path / "bad.mbox", MALFORMED)
    plan = mm("plan", tmp_path / "bad.mbox")
    assert plan.code == 0, plan.err
    r = mm("run", tmp_path / "bad.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "s.sqlite", "--yes", account=account)
    assert r.code in (0, 1), r.err
    summary = json.loads((tmp_path / "s.run.json").read_text())
    on_server = {m.data for m in account.read_back()["INBOX"]}
    reported = [f["source"] for f in summary["failed"]]
    # Dovecot stores NUL as 0x80 (its documented limit), even from a BINARY literal
    uploaded = [data for data in MALFORMED
                if to_crlf(data).replace(b"\x00", b"\x80") in on_server]
    # each message is on the server or named once with its own location: never both, never lost
    assert len(uploaded) + len(reported) == len(MALFORMED) == len(on_server) + len(reported)
    assert len(set(reported)) == len(reported)
    assert all(s.startswith(str(tmp_path / "bad.mbox") + " at byte ") for s in reported)
    assert summary["missing"] == 0


def test_nul_message_refused_in_plan_without_binary(tmp_path, make_account, mm):
    account = make_account("reduced")  # no BINARY either
    write_mbox(tmp_path / "bad.mbox", [MALFORMED[0], message("fine")])
    r = mm("plan", tmp_path / "bad.mbox", *account.cli_args(), account=account)
    assert r.code == 0, r.err
    assert "NUL bytes" in r.out


