"""Issue 34.1: where headers cannot tell two messages apart, their bytes do.

Cron reports without a Message-ID share From, To, Subject, Date and size and
differ in one digit of the body. The server holds one of them already: the
plan, the run and verify must all see that the other is not there, and upload
it once. Verify must also see the loss a run made before content was compared
(the held one twice, the other none), whether a state exists or not.
"""

from __future__ import annotations

import json

import pytest

from tests.support.builders import crlf, message, write_mbox


def cron(percent: int) -> bytes:
    return message("Cron <root@host> df", body=f"Disk usage: {percent}%\n", msgid=None,
                   date="Mon, 03 Feb 2020 03:00:00 +0000", sender="root@host")


def bodies(account, mailbox="INBOX") -> list[bytes]:
    return sorted(m.data for m in account.read_back().get(mailbox, []))


@pytest.mark.parametrize("kind", ["mbox", "eml"])
def test_a_look_alike_on_the_server_does_not_stand_for_the_other(tmp_path, account, mm, kind):
    first, second = cron(45), cron(46)
    assert len(first) == len(second)
    if kind == "mbox":
        src = write_mbox(tmp_path / "src" / "Inbox", [first, second])
    else:  # a folder of .eml files: every body hashed as it is read
        src = tmp_path / "src" / "Inbox"
        src.mkdir(parents=True)
        (src / "1.eml").write_bytes(first)
        (src / "2.eml").write_bytes(second)
    account.append("INBOX", crlf(second))
    plan = mm("plan", src, *account.cli_args(), "--report", tmp_path / "rep", account=account)
    assert plan.code == 0, plan.err
    counts = json.loads((tmp_path / "rep" / "plan.json").read_text())["summary"]["counts"]
    assert counts.get("upload") == 1 and counts.get("present") == 1, counts
    run = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--yes",
             "--state", tmp_path / "state.db", account=account)
    assert run.code == 0, run.err
    assert bodies(account) == sorted([crlf(first), crlf(second)])
    for state in (["--state", tmp_path / "state.db"], []):
        check = mm("verify", src, *account.cli_args(), *state, account=account)
        assert check.code == 0, check.out + check.err


def test_verify_sees_the_loss_the_old_rule_made(tmp_path, account, mm):
    first, second = cron(45), cron(46)
    src = write_mbox(tmp_path / "src" / "Inbox", [first, second])
    account.append("INBOX", crlf(second))
    account.append("INBOX", crlf(second))  # what the old rule left: one twice, none of first
    check = mm("verify", src, *account.cli_args(), "--report", tmp_path / "v", account=account)
    assert check.code != 0, check.out
    [box] = json.loads((tmp_path / "v" / "verify.json").read_text())["mailboxes"]
    assert (len(box["missing"]), len(box["duplicated"])) == (1, 1), box
