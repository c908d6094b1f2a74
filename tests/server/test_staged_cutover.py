"""Staged cutover: a pre-stage pass with filters days ahead, the final pass on the night.

Filters (--before/--since by INTERNALDATE, --folder/--exclude-folder with children
following their parent, --max-size) select the same messages in plan, run and
verify; what they leave out is "left for a later pass", never skipped or missing.
A pre-stage then a final pass ends exactly like one full run, also when the
pre-stage was killed half-way.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys

from migrate.errors import ExitCode
from tests.conftest import ROOT
from tests.server.test_servers import tree
from tests.support.builders import crlf, message, write_mbox
from tests.support.faults import KillProxy

UTC = dt.timezone.utc
BOUNDARY = "2024-06-30"  # 00:00 UTC


def dated_mbox(path):
    """Messages around the boundary; From_ lines carry the INTERNALDATE (UTC)."""
    when = {"old": dt.datetime(2024, 1, 1, 12), "last second": dt.datetime(2024, 6, 29, 23, 59, 59),
            "on the boundary": dt.datetime(2024, 6, 30, 0, 0, 0),
            "after": dt.datetime(2024, 7, 15, 8)}
    msgs = [message(subject) for subject in when]
    write_mbox(path, msgs, list(when.values()))
    return dict(zip(when, msgs))


def plan_counts(mm, src, *args, account=None):
    r = mm("plan", src, *args, "--report", src.parent / "rep", account=account)
    assert r.code == 0, r.err
    return json.loads((src.parent / "rep" / "plan.json").read_text())["summary"]["counts"]


def run(mm, account, src, tmp_path, *extra, state="state.sqlite"):
    return mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
              tmp_path / state, "--yes", "--json", *extra, account=account)


def subjects(account, mailbox="INBOX") -> list[str]:
    return sorted(m.data.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
                  for m in account.read_back().get(mailbox, []))


def test_date_filters_take_exactly_their_side_of_the_boundary(tmp_path, account, mm):
    src = tmp_path / "one.mbox"
    dated_mbox(src)
    counts = plan_counts(mm, src, "--before", BOUNDARY)
    assert (counts["upload"], counts["later"]) == (2, 2)
    r = run(mm, account, src, tmp_path, "--before", BOUNDARY)
    assert r.code == 0, r.out + r.err
    summary = json.loads(r.out)
    assert summary["totals"]["uploaded"] == 2 and summary["totals"]["later"] == 2
    assert summary["missing"] == 0  # left for later is never missing
    assert subjects(account) == ["last second", "old"]
    same = mm("verify", src, *account.cli_args(), "--before", BOUNDARY, "--state",
              tmp_path / "state.sqlite", account=account)
    assert same.code == 0, same.out  # the same filter checks only what it selects
    everything = mm("verify", src, *account.cli_args(), "--state", tmp_path / "state.sqlite",
                    account=account)
    assert everything.code == ExitCode.VERIFY_FAILED and "2 messages missing" in everything.out
    # the explicit time zone: 01:00 at +02:00 on the 30th is 23:00 UTC on the 29th
    counts = plan_counts(mm, src, "--before", "2024-06-30T01:00+02:00")
    assert (counts["upload"], counts["later"]) == (1, 3)
    counts = plan_counts(mm, src, "--since", BOUNDARY)
    assert (counts["upload"], counts["later"]) == (2, 2)  # the boundary itself and after
    r = run(mm, account, src, tmp_path, "--since", BOUNDARY)
    assert json.loads(r.out)["totals"]["uploaded"] == 2
    assert subjects(account) == ["after", "last second", "old", "on the boundary"]
    status = mm("status", "--state", tmp_path / "state.sqlite")
    assert f"this pass: --before {BOUNDARY}" in status.out
    assert f"this pass: --since {BOUNDARY}" in status.out and "moved 2" in status.out


def test_folder_and_size_filters(tmp_path, account, mm):
    root = tmp_path / "Local Folders"
    (root / "Archive.sbd").mkdir(parents=True)
    write_mbox(root / "Inbox", [message("in"), message("big", body="b" * 30_000 + "\n")])
    write_mbox(root / "Archive", [message("arch")])
    write_mbox(root / "Archive.sbd" / "2019", [message("arch 2019")])
    write_mbox(root / "Sent", [message("sent")])
    counts = plan_counts(mm, root, "--folder", "Archive", "--exclude-folder", "Archive/2019")
    assert (counts["upload"], counts["later"]) == (1, 4)
    r = run(mm, account, root, tmp_path, "--folder", "Arch*", "--max-size", "20k")
    assert r.code == 0, r.out + r.err
    server = account.read_back()
    assert [m.data for m in server["Archive"]] == [crlf(message("arch"))]
    assert [m.data for m in server["Archive/2019"]] == [crlf(message("arch 2019"))]
    assert server["INBOX"] == [] and server["Sent"] == []  # not this pass's folders
    r = run(mm, account, root, tmp_path, "--max-size", "20k")
    assert json.loads(r.out)["totals"]["later"] == 1  # the big one, named
    assert any("--max-size" in i["reason"] for i in json.loads(r.out)["not_moving"]
               if i["reason"])
    r = run(mm, account, root, tmp_path)
    assert r.code == 0 and json.loads(r.out)["totals"]["uploaded"] == 1
    assert subjects(account) == ["big", "in"]


def test_pre_stage_then_final_pass_equals_one_full_run(tmp_path, make_account, mm):
    staged, full = make_account(), make_account()
    made = tree(tmp_path / "Local Folders")
    src = tmp_path / "Local Folders"
    # the pre-stage takes only some folders and the small messages; the final pass the rest
    r = run(mm, staged, src, tmp_path, "--folder", "Archive", "--folder", "Inbox",
            "--max-size", "300")
    assert r.code == 0, r.out + r.err
    assert 0 < json.loads(r.out)["totals"]["uploaded"] < sum(map(len, made.values()))
    r = run(mm, staged, src, tmp_path)
    assert r.code == 0, r.out + r.err
    r = run(mm, full, src, tmp_path, state="full.sqlite")
    assert r.code == 0, r.out + r.err
    a, b = staged.read_back(), full.read_back()
    assert sorted(a) == sorted(b)
    for mailbox in a:
        assert sorted((m.data, m.keyflags, m.internaldate) for m in a[mailbox]) == \
            sorted((m.data, m.keyflags, m.internaldate) for m in b[mailbox]), mailbox


def test_interrupted_pre_stage_then_final_pass_is_exactly_once(tmp_path, account, mm):
    from tests.server.test_exactly_once import assert_exactly_once, env_for, make_store
    expected = make_store(tmp_path / "store", sizes=(("Inbox", 60), ("Sent", 40)))
    env = env_for(account, tmp_path)
    proxy = KillProxy(account.server.imap_port, "ok-held", nth=2).start()
    args = ["run", tmp_path / "store", *account.cli_args(tls="none", port=proxy.port),
            "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
            "--settle-seconds", "1", "--batch-size", "10", "--before", "2015-06-01"]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "migrate", *map(str, args)], env=env,
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        proxy.victim = proc.pid
        proc.wait(timeout=120)
    finally:
        proxy.stop()
    assert proxy.landed == "ok-held" and proc.returncode == -signal.SIGKILL
    final = mm("run", tmp_path / "store", *account.cli_args(), "--backup-dir", tmp_path / "bk",
               "--state", tmp_path / "state.sqlite", "--yes", "--settle-seconds", "1",
               account=account)
    assert final.code == 0, final.out + final.err
    assert_exactly_once(account, expected, tmp_path / "state.sqlite")


def test_report_to_inbox_once_across_re_runs(tmp_path, account, mm):
    src = tmp_path / "one.mbox"
    dated_mbox(src)
    pre = run(mm, account, src, tmp_path, "--before", BOUNDARY, "--report-to-inbox")
    assert pre.code == 0 and "report_to_inbox" not in json.loads(pre.out)  # not a pre-stage
    for _ in range(2):
        r = run(mm, account, src, tmp_path, "--report-to-inbox")
        assert r.code == 0, r.out + r.err
    reports = [m for m in account.read_back()["INBOX"]
               if b"Subject: Your mail has been moved" in m.data]
    assert len(reports) == 1
    assert reports[0].keyflags == {"\\Flagged"}  # unread, and it stands out
    assert b"one.mbox" not in reports[0].data.split(b"\r\n\r\n")[0]
    assert b"INBOX: 4 of 4" in reports[0].data or b"-> INBOX: 4 of 4" in reports[0].data
    assert json.loads(r.out)["report_to_inbox"] == "already in INBOX"
    account.delete_as_other_client("INBOX", reports[0].uid)  # read and deleted by the person
    r = run(mm, account, src, tmp_path, "--report-to-inbox")
    assert "not sent again" in json.loads(r.out)["report_to_inbox"]
    assert not [m for m in account.read_back()["INBOX"]
                if b"Subject: Your mail has been moved" in m.data]


def test_report_to_inbox_says_when_more_moved_later_in_the_clients_language(tmp_path,
                                                                             account, mm):
    """Issue 39.9: the report said "Moved: 1476" though 250 more moved the next night,
    and never said so. Mail that moves after the report (a source given more, a pass
    after the cutover) brings one update; a re-run with nothing new brings none."""
    src = tmp_path / "one.mbox"
    msgs = list(dated_mbox(src).values())
    first = run(mm, account, src, tmp_path, "--report-to-inbox", "--language", "de")
    assert json.loads(first.out)["report_to_inbox"] == "delivered to INBOX", first.out
    write_mbox(src, msgs + [message("late 1"), message("late 2")])
    for said in ("an update delivered to INBOX", "already in INBOX"):
        r = run(mm, account, src, tmp_path, "--report-to-inbox", "--language", "de")
        assert r.code == 0 and json.loads(r.out)["report_to_inbox"] == said, r.out + r.err
    import email
    reports = [email.message_from_bytes(m.data) for m in account.read_back()["INBOX"]
               if b"mailmigrate-report." in m.data]
    assert [str(email.header.make_header(email.header.decode_header(r["Subject"])))
            for r in reports] == ["Ihre E-Mails wurden umgezogen",
                                  "Ihre E-Mails wurden umgezogen: Nachtrag"]
    update = reports[1].get_payload(decode=True).decode()
    assert "2 weitere Nachrichten umgezogen" in update and "Umgezogen: 6 Nachrichten" in update


def test_deferred_is_never_will_not_move(tmp_path, account, mm):
    """Issue 39.3: a pre-stage's plan called the messages it leaves for the night "will
    not move" (an orange card that alarms a client); a re-plan called mail moved by
    earlier runs "will not". Each count says which it is."""
    import datetime as dt
    import json

    from tests.support.builders import message, write_mbox
    old = [message(f"old {i}", date="Mon, 03 Feb 2014 10:00:00 +0100") for i in range(3)]
    new = [message(f"new {i}", date="Mon, 03 Feb 2025 10:00:00 +0100") for i in range(2)]
    write_mbox(tmp_path / "one.mbox", old + new,
               [dt.datetime(2014, 2, 3)] * 3 + [dt.datetime(2025, 2, 3)] * 2)
    args = [tmp_path / "one.mbox", *account.cli_args(), "--before", "2020-01-01"]
    plan = mm("plan", *args, "--report", tmp_path / "rep", account=account)
    assert plan.code == 0, plan.err
    assert ("3 of 5 messages" in plan.out and "will be uploaded now; 2 are left for a later "
            "pass; 0 will not move." in plan.out), plan.out
    page = (tmp_path / "rep" / "plan.html").read_text()
    assert "Left for a later pass" in page and "What will not move" not in page
    run = mm("run", *args, "--backup-dir", tmp_path / "bk", "--state", tmp_path / "s.sqlite",
             "--yes", account=account)
    assert run.code == 0, run.err
    again = mm("plan", tmp_path / "one.mbox", *account.cli_args(), "--state",
               tmp_path / "s.sqlite", "--report", tmp_path / "rep2", account=account)
    assert "2 of 5 messages" in again.out and "3 moved in earlier runs" in again.out and \
        "0 will not move." in again.out, again.out
    assert json.loads((tmp_path / "rep2" / "plan.json").read_text())["summary"]["counts"][
        "done"] == 3
