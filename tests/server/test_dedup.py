"""Deduplication rules and changed sources, asserted on the real server."""

from __future__ import annotations

import collections
import datetime as dt
import shutil

from tests.support.builders import crlf, message, write_mbox


def run(mm, account, tmp_path, *sources, extra=()):
    r = mm("run", *sources, *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "state.sqlite", "--yes", *extra, account=account)
    assert r.code == 0, r.err + r.out
    return r


def subjects(account, mailbox="INBOX"):
    found = []
    for m in account.read_back().get(mailbox, []):
        found.append(m.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode())
    return collections.Counter(found)


def test_byte_identical_copies_in_a_folder_upload_once(tmp_path, account, mm):
    a = message("twice")
    write_mbox(tmp_path / "m.mbox", [a, message("other"), a])
    r = run(mm, account, tmp_path, tmp_path / "m.mbox")
    assert subjects(account) == {"twice": 1, "other": 1}
    assert "duplicates skipped:     1" in r.out


def test_same_message_in_two_stores_uploads_once(tmp_path, account, mm):
    """An mbox copy with Thunderbird status headers and a maildir copy without them."""
    plain = message("shared", msgid="<shared@example.org>")
    tb = message("shared", msgid="<shared@example.org>", extra="X-Mozilla-Status: 0001")
    write_mbox(tmp_path / "tb" / "Inbox", [tb, message("only tb")])
    (tmp_path / "md" / "cur").mkdir(parents=True)
    (tmp_path / "md" / "new").mkdir()
    (tmp_path / "md" / "cur" / "1.x:2,S").write_bytes(plain)
    run(mm, account, tmp_path, tmp_path / "tb", tmp_path / "md")
    assert subjects(account) == {"shared": 1, "only tb": 1}


def test_shared_message_id_but_different_messages_are_both_kept(tmp_path, account, mm):
    sent = message("Report", msgid="<same@example.org>", sender="Pat <pat@example.org>")
    bounce = message("Undelivered Mail Returned to Sender", msgid="<same@example.org>",
                     sender="MAILER-DAEMON <mailer-daemon@example.org>")
    same_headers = message("Report", msgid="<same@example.org>",
                           sender="Pat <pat@example.org>", body="A different body.\n")
    write_mbox(tmp_path / "m.mbox", [sent, bounce, same_headers])
    run(mm, account, tmp_path, tmp_path / "m.mbox")
    assert sorted(m.data for m in account.read_back()["INBOX"]) == \
        sorted(crlf(m) for m in (sent, bounce, same_headers))


def test_server_side_dedup_against_another_clients_uploads(tmp_path, account, mm):
    msgs = [message(f"m{i}") for i in range(5)]
    msgs.append(message("no id", msgid=None))
    for m in msgs[:3] + msgs[5:]:  # a partial earlier migration by some other tool
        account.append("INBOX", crlf(m), flags=[r"\Seen"], when=dt.datetime(2020, 1, 1))
    write_mbox(tmp_path / "m.mbox", msgs)
    plan = mm("plan", tmp_path / "m.mbox", *account.cli_args(), account=account)
    total = next(line.split() for line in plan.out.splitlines() if line.startswith("TOTAL"))
    assert total[4:7] == ["2", "4", "0"]  # to move, already in the account, moved earlier
    r = run(mm, account, tmp_path, tmp_path / "m.mbox")
    assert "already in the account: 4" in r.out
    assert subjects(account) == {f"m{i}": 1 for i in range(5)} | {"no id": 1}
    assert mm("verify", tmp_path / "m.mbox", *account.cli_args(), account=account).code == 0


def test_cross_folder_copies_kept_unless_asked(tmp_path, make_account, mm):
    both = message("in two folders")
    write_mbox(tmp_path / "s" / "Inbox", [both])
    write_mbox(tmp_path / "s" / "Projects", [both])
    account = make_account()
    run(mm, account, tmp_path, tmp_path / "s")
    assert subjects(account)["in two folders"] == 1
    assert subjects(account, "Projects")["in two folders"] == 1

    other = make_account()
    run(mm, other, tmp_path / "second", tmp_path / "s", extra=["--dedup-across-folders"])
    copies = subjects(other)["in two folders"] + subjects(other, "Projects")["in two folders"]
    assert copies == 1


def test_grown_source_uploads_only_new_messages(tmp_path, account, mm):
    first = [message(f"old {i}") for i in range(3)]
    write_mbox(tmp_path / "m.mbox", first)
    run(mm, account, tmp_path, tmp_path / "m.mbox")
    write_mbox(tmp_path / "m.mbox", first + [message("new 1"), message("new 2")])
    r = run(mm, account, tmp_path, tmp_path / "m.mbox")
    assert "moved now:              2" in r.out
    assert subjects(account) == {"old 0": 1, "old 1": 1, "old 2": 1, "new 1": 1, "new 2": 1}
    assert len(list((tmp_path / "bk").glob("*.tar"))) == 2  # the changed source got a new backup


def test_moved_source_does_not_upload_again(tmp_path, account, mm):
    write_mbox(tmp_path / "a" / "m.mbox", [message(f"m{i}") for i in range(4)])
    run(mm, account, tmp_path, tmp_path / "a" / "m.mbox")
    (tmp_path / "b").mkdir()
    shutil.move(tmp_path / "a" / "m.mbox", tmp_path / "b" / "renamed.mbox")
    r = run(mm, account, tmp_path, tmp_path / "b" / "renamed.mbox")
    assert "moved now:              0" in r.out
    assert sorted(m.data for m in account.read_back()["INBOX"]) == \
        sorted(crlf(message(f"m{i}")) for i in range(4))


def test_lost_state_still_does_not_double(tmp_path, account, mm):
    write_mbox(tmp_path / "m.mbox", [message(f"m{i}") for i in range(4)])
    run(mm, account, tmp_path, tmp_path / "m.mbox")
    (tmp_path / "state.sqlite").unlink()
    r = run(mm, account, tmp_path, tmp_path / "m.mbox")
    assert "already in the account: 4" in r.out
    assert sorted(m.data for m in account.read_back()["INBOX"]) == \
        sorted(crlf(message(f"m{i}")) for i in range(4))
