"""Gmail as a destination, through an emulation: plan -> run -> verify.

A Dovecot of Gmail's shape (variant ``gmail``: X-GM-EXT-1, APPENDLIMIT, the
[Gmail] folders with \\All \\Sent \\Drafts \\Trash \\Junk \\Flagged \\Important)
behind ``tests.support.faults.GmailProxy``, which enforces Gmail's limits: 15 logins
at once per account, and a daily upload budget that ends in
"BYE Session expired". The proxy counts every APPEND byte that reaches the
server, so "sent once" is measured, not assumed.
"""

from __future__ import annotations

import collections
import datetime as dt
import json

import pytest

from tests.support.builders import crlf, message, write_mbox
from tests.support.faults import GmailProxy


@pytest.fixture
def gmail(make_account):
    account = make_account("gmail")
    proxies = []

    def behind(**limits) -> GmailProxy:
        proxy = GmailProxy(account.server.imap_port, **limits).start()
        proxies.append(proxy)
        return proxy

    yield account, behind
    for proxy in proxies:
        proxy.stop()


def filed_in_two_folders(root, n=50, size=2_000):
    """Every message in Inbox and in one other folder (Work or Family); Sent apart."""
    msgs = [message(f"filed {i}", body=f"{i} " * (size // 3) + "\n",
                    extra="Status: RO" if i % 3 else "") for i in range(n)]
    dates = [dt.datetime(2019, 5, 1) + dt.timedelta(hours=i) for i in range(n)]
    write_mbox(root / "Inbox", msgs, dates)  # a message has its date in every folder
    write_mbox(root / "Work", msgs[0::2], dates[0::2])
    write_mbox(root / "Family", msgs[1::2], dates[1::2])
    sent = [message(f"sent {i}", sender="Pat <pat@example.org>") for i in range(5)]
    write_mbox(root / "Sent", sent)
    return msgs, sent


def test_plan_warns_where_gmail_deletes_mail_after_30_days(tmp_path, gmail, mm):
    """The old Trash would go to [Gmail]/Trash, which Gmail empties after 30 days: the plan
    says so and how to keep it; with the --map it goes to an ordinary folder."""
    account, behind = gmail
    proxy = behind()
    write_mbox(tmp_path / "store" / "Inbox", [message("kept")])
    write_mbox(tmp_path / "store" / "Trash", [message("deleted long ago")])
    target = account.cli_args(tls="none", port=proxy.port)
    plan = mm("plan", tmp_path / "store", *target, "--no-speed-probe", "--report",
              tmp_path / "rep", account=account)
    assert plan.code == 0, plan.err
    assert ("WARNING: Gmail / Google Workspace deletes mail in [Gmail]/Trash after 30 days: "
            "1 messages of Trash go there; to keep them, add --map 'Trash=Old Trash'.") in plan.out
    assert "deletes mail in [Gmail]/Trash" in (tmp_path / "rep" / "plan.html").read_text()
    from tests.support.browser import layout
    width, inner, _ = layout(tmp_path / "rep" / "plan.html", tmp_path)
    assert width <= inner == 1280  # the warning fits the page a client reads
    kept = mm("plan", tmp_path / "store", *target, "--no-speed-probe", "--map",
              "Trash=Old Trash", account=account)
    assert kept.code == 0 and "WARNING" not in kept.out and "Old Trash" in kept.out


def sent_bytes(msgs) -> int:
    return sum(len(crlf(m)) for m in msgs)


def assert_every_folder_complete(account, msgs, sent):
    server = account.read_back()
    expected = {"INBOX": msgs, "Work": msgs[0::2], "Family": msgs[1::2],
                "[Gmail]/Sent Mail": sent}
    for mailbox, want in expected.items():
        got = collections.Counter(m.data for m in server[mailbox])
        assert got == collections.Counter(crlf(m) for m in want), mailbox
    read = {m.data for m in server["INBOX"] if "\\Seen" in m.flags}
    assert read == {crlf(m) for i, m in enumerate(msgs) if i % 3}


def run_args(account, proxy, tmp_path, *extra):
    return ("run", tmp_path / "store", *account.cli_args(tls="none", port=proxy.port),
            "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
            "--retry-backoff", "0.05", "--settle-seconds", "1", *extra)


def test_a_message_in_two_folders_is_uploaded_once_and_labelled_twice(tmp_path, gmail, mm):
    account, behind = gmail
    proxy = behind()
    msgs, sent = filed_in_two_folders(tmp_path / "store")
    odd = [message("filed under a folder named [Gmail]"), message("under ^Odd")]
    write_mbox(tmp_path / "store" / "[Gmail]", odd[:1])  # Gmail's own: not ours to fill
    write_mbox(tmp_path / "store" / "^Odd", odd[1:])  # no label begins with ^
    sent = sent + odd
    target = account.cli_args(tls="none", port=proxy.port)
    plan = mm("plan", tmp_path / "store", *target, "--no-speed-probe", account=account)
    assert plan.code == 0, plan.err
    assert "Provider: Gmail / Google Workspace (detected)" in plan.out
    assert "[Gmail]/Sent Mail" in plan.out and "[Gmail] (imported)" in plan.out
    assert "50 of them (101.7 KB) are filed in more than one folder: each is sent once and " \
        "copied on the server." in plan.out
    run = mm(*run_args(account, proxy, tmp_path, "--json"), account=account)
    assert run.code == 0, run.out + run.err
    summary = json.loads(run.out)
    assert proxy.appended == sent_bytes(msgs) + sent_bytes(sent)  # each message's bytes once
    assert summary["copied"] == 50 and summary["totals"]["uploaded"] == 107
    assert summary["uploaded_bytes"] == proxy.appended
    morning = (tmp_path / "state.run.html")
    assert "50 of them copied on the server from another folder" in morning.read_text()
    from tests.support.browser import layout
    width, inner, _ = layout(morning, tmp_path)
    assert width <= inner == 1280
    assert_every_folder_complete(account, msgs, sent[:5])
    server = account.read_back()
    assert [m.data for m in server["[Gmail] (imported)"]] == [crlf(odd[0])]
    assert [m.data for m in server["_Odd"]] == [crlf(odd[1])]
    check = mm("verify", tmp_path / "store", *target, "--state", tmp_path / "state.sqlite",
               account=account)
    assert check.code == 0, check.out + check.err
    again = mm(*run_args(account, proxy, tmp_path), account=account)
    assert again.code == 0 and proxy.appended == sent_bytes(msgs) + sent_bytes(sent)


def test_a_spent_daily_budget_stops_with_exit_8_and_the_next_day_finishes(tmp_path, gmail,
                                                                          mm):
    account, behind = gmail
    msgs, sent = filed_in_two_folders(tmp_path / "store", size=20_000)
    proxy = behind(budget=sent_bytes(msgs) // 2)  # about half of the mail a "day"
    first = mm(*run_args(account, proxy, tmp_path, "--batch-size", "5"), account=account)
    assert first.code == 8, first.out + first.err
    assert "today's upload budget is spent" in first.out + first.err
    # a clean stop of each of the 3 connections, no reconnect storm: one reconnect each
    # at most tells an ordinary expiry from a spent budget (issue 34.13)
    assert 1 <= proxy.byes <= 6, first.err
    for _day in range(2, 6):  # the same command, each next "day", until it is done
        proxy.new_day()
        later = mm(*run_args(account, proxy, tmp_path, "--batch-size", "5"), account=account)
        if later.code == 0:
            break
        assert later.code == 8, later.out + later.err
    assert later.code == 0, later.out + later.err
    assert_every_folder_complete(account, msgs, sent)
    from tests.support.invariants import assert_state_matches
    assert_state_matches(tmp_path / "state.sqlite", account,
                         ["INBOX", "Work", "Family", "[Gmail]/Sent Mail"])


def test_the_connection_limit_lowers_the_connection_count_without_failing(tmp_path, gmail,
                                                                          mm):
    """The phone, the tablet and the laptop hold 3 of 4 allowed connections: a run asking
    for 3 gets 1 and finishes."""
    account, behind = gmail
    proxy = behind(max_logins=4)
    proxy.others = 3
    msgs, sent = filed_in_two_folders(tmp_path / "store")
    run = mm(*run_args(account, proxy, tmp_path, "--connections", "3"), account=account)
    assert run.code == 0, run.out + run.err
    assert proxy.refused_logins >= 1 and proxy.most_at_once == 1
    assert_every_folder_complete(account, msgs, sent)
