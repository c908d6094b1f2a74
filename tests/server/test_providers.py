"""Provider profiles: one table, recognised by host or capability, chosen with --provider:
the server tests (tests/unit/test_providers.py has the rest, and says what they prove)."""

from __future__ import annotations

import json

import jsonschema

from migrate.report import SCHEMA_FILE
from tests.support.builders import message, write_mbox


def test_plan_says_which_profile_applies_and_applies_it(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", [message("short"),
                                       message("long line", body="y" * 12_000 + "\n")])
    r = mm("plan", tmp_path / "one.mbox", *account.cli_args(), "--provider", "office365",
           "--report", tmp_path / "rep", account=account)
    assert r.code == 0, r.err
    assert "Provider: Microsoft 365 / Exchange Online (chosen with --provider)" in r.out
    assert "lines over 9,998 characters are refused" in r.out
    document = json.loads((tmp_path / "rep" / "plan.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert document["target"]["provider"]["name"] == "office365"
    assert document["summary"]["counts"]["refuse"] == 1
    detected = mm("plan", tmp_path / "one.mbox", *account.cli_args(), account=account)
    assert "Provider: none known (detected)" in detected.out


def test_office365_emulation_plan_run_verify(tmp_path, account, mm):
    """Dovecot behind a proxy that behaves as Exchange Online does (tests.support.faults.
    Office365Proxy): no MULTIAPPEND, throttling with "Suggested Backoff Time",
    \\Seen dropped on APPEND, "Command Argument Error. 11" for some messages and
    BYE after ten errors on a connection. With the office365 profile: the
    long-line and the over-size message are refused in plan and run alike, a
    reserved folder name is renamed, the throttled APPEND waits as asked, the
    refused messages are named with the server's words (the BYEs are survived),
    dropped flags are added back, and verify agrees: complete except refused."""
    from tests.support.builders import crlf
    from tests.support.faults import Office365Proxy
    root = tmp_path / "Local Folders"
    root.mkdir()
    inbox = [message(f"o{i}", extra="Status: RO" if i % 2 else "") for i in range(30)]
    refused = [message(f"refused {i}", msgid=f"<r{i}@example.org>") for i in range(10, 22)]
    long_line = message("long line", body="y" * 12_000 + "\n")
    huge = message("over 35 MB", body=("x" * 76 + "\n") * (36 * 1024 * 1024 // 77))
    write_mbox(root / "Inbox", inbox[:15] + refused + [long_line, huge] + inbox[15:])
    write_mbox(root / "Calendar", [message("filed in a folder named Calendar")])
    assert len({len(crlf(m)) for m in refused}) == 1
    assert len(crlf(refused[0])) not in {len(crlf(m)) for m in inbox}
    office = Office365Proxy(account.server.imap_port, throttle_at={3}, backoff_ms=400,
                            refuse_sizes={len(crlf(refused[0]))}).start()
    target = (*account.cli_args(tls="none", port=office.port), "--provider", "office365")
    try:
        plan = mm("plan", root, *target, "--report", tmp_path / "rep", account=account)
        assert plan.code == 0, plan.err
        document = json.loads((tmp_path / "rep" / "plan.json").read_text())
        counts = document["summary"]["counts"]
        assert (counts["upload"], counts["refuse"]) == (43, 2)
        assert "Calendar (imported)" in plan.out
        run = mm("run", root, *target, "--backup-dir", tmp_path / "bk", "--state",
                 tmp_path / "state.sqlite", "--yes", "--json", "--retry-backoff", "0.05",
                 "--settle-seconds", "1", account=account)
        assert run.code == 1, run.out + run.err  # complete, except the refused messages
        summary = json.loads(run.out)
        assert summary["totals"]["refuse"] == 2 and summary["missing"] == 0
        reasons = {f["reason"] for f in summary["not_uploaded"]}
        assert reasons == {"server refused: Command Argument Error. 11",
                           "has a line of 12000 characters; the server takes at most 9998",
                           "larger than the server's limit of 36700160 bytes"}
        assert len(summary["failed"]) == 12
        assert summary["flags_repaired"] == 15 and office.throttled == 1
        assert office.byes >= 1  # ten errors on a connection: BYE, survived
        assert "asks us to slow down; waiting 0.4s" in run.err
        checked = mm("verify", root, *target, "--state", tmp_path / "state.sqlite",
                     account=account)
        assert checked.code == 1, checked.out
        assert "stored without" not in checked.out  # the repair left nothing to report
        c = account.client()  # the user's phone marks one message unread again
        try:
            c.select_folder("INBOX")
            uid = next(u for u, item in c.fetch(c.search(["ALL"]), ["FLAGS"]).items()
                       if b"\\Seen" in item[b"FLAGS"])
            c.remove_flags([uid], [b"\\Seen"])
        finally:
            c.logout()
        checked = mm("verify", root, *target, "--state", tmp_path / "state.sqlite",
                     account=account)
        assert checked.code == 1 and checked.out.count("stored without \\Seen") == 1, \
            checked.out
    finally:
        office.stop()
    server = account.read_back()
    assert sorted(m.data for m in server["INBOX"]) == sorted(crlf(m) for m in inbox)
    seen = {m.data for m in server["INBOX"] if "\\Seen" in m.keyflags}
    assert len(seen) == 14 and seen < {crlf(m) for i, m in enumerate(inbox) if i % 2}
    assert [m.data for m in server["Calendar (imported)"]] == [
        crlf(message("filed in a folder named Calendar"))]


def test_without_the_profile_exchange_refuses_the_long_line_itself(tmp_path, account, mm):
    """--provider generic: nobody knows the line limit before sending, so the server's
    "BAD Command Argument Error. 12" names the message, and the rest arrives."""
    from tests.support.builders import crlf
    from tests.support.faults import Office365Proxy
    msgs = [message(f"g{i}") for i in range(6)]
    long_line = message("long line", body="y" * 12_000 + "\n")
    write_mbox(tmp_path / "one.mbox", msgs[:3] + [long_line] + msgs[3:])
    office = Office365Proxy(account.server.imap_port).start()
    try:
        run = mm("run", tmp_path / "one.mbox", *account.cli_args(tls="none", port=office.port),
                 "--provider", "generic", "--backup-dir", tmp_path / "bk", "--state",
                 tmp_path / "state.sqlite", "--yes", "--json", account=account)
    finally:
        office.stop()
    assert run.code == 1, run.out + run.err
    summary = json.loads(run.out)
    assert [f["reason"] for f in summary["failed"]] == [
        "server refused: Command Argument Error. 12"]
    assert sorted(m.data for m in account.read_back()["INBOX"]) == sorted(map(crlf, msgs))


def test_a_gmail_account_behind_its_own_host_name_is_recognised(tmp_path, account, mm):
    """Google Workspace on the customer's host name announces X-GM-EXT-1: once connected,
    the Gmail profile applies (its daily budget in the estimate, its 15 connections)."""
    from tests.support.faults import CapabilityProxy
    write_mbox(tmp_path / "one.mbox", [message("hello")])
    proxy = CapabilityProxy(account.server.imap_port, b"X-GM-EXT-1").start()
    target = account.cli_args(tls="none", port=proxy.port)
    try:
        plan = mm("plan", tmp_path / "one.mbox", *target, "--no-speed-probe", account=account)
        assert plan.code == 0, plan.err
        assert "Provider: Gmail / Google Workspace (detected)" in plan.out
        assert "about 500 MB a day" in plan.out
        run = mm("run", tmp_path / "one.mbox", *target, "--backup-dir", tmp_path / "bk",
                 "--state", tmp_path / "state.sqlite", "--yes", "--connections", "20",
                 account=account)
        assert run.code == 0, run.out + run.err
        assert "takes at most 15 connections at once; using 15" in run.err
    finally:
        proxy.stop()
