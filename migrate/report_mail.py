"""The report delivered into the new mailbox (``run --report-to-inbox``).

At the end of a complete run, one plain message in INBOX tells the person
their mail has moved: counts per folder, what did not move and why, and
when. It is flagged (and unread) so it is seen on the first login. Exactly
one across re-runs: the state notes it before the APPEND and after, and a
re-run looks for its Message-ID on the server before sending again (a
message the person already deleted is not sent twice).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib

from migrate.reconcile import fetched_pages
from migrate.report import counted
from migrate.target.base import AppendItem

SUBJECT = "Your mail has been moved"


def message_id(user: str, host: str) -> str:
    token = hashlib.sha256(f"{user}@{host}".encode()).hexdigest()[:24]
    return f"mailmigrate-report.{token}@mailmigrate.invalid"


def build(summary: dict, user: str, host: str, now: dt.datetime | None = None) -> bytes:
    """The report as a plain-text message (CRLF, ASCII headers, UTF-8 body)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    t = summary["totals"]
    lines = [f"Your mail has been moved to this account ({user}).", "",
             f"Moved: {t.get('uploaded', 0) + t.get('done', 0)} messages; "
             f"{t.get('present', 0)} were already here.", "", "Per folder:"]
    for f in summary.get("folders", []):
        moved = f.get("uploaded", 0) + f.get("done", 0) + f.get("present", 0)
        lines.append(f"  {f['folder']} -> {f['target']}: {moved} of {f['messages']}")
    left = summary.get("not_uploaded", [])
    if left:
        lines += ["", "Not moved, and why:"]
        lines += [f"  {i['folder']}: {i['reason'] or i['action']}" for i in left[:200]]
        count = counted(summary, "not_uploaded")
        if count > 200:
            lines.append(f"  ... and {count - 200} more (see the run report)")
    lines += ["", f"Checked on {now.strftime('%Y-%m-%d %H:%M UTC')}: every message that "
              "should be here is here." if not summary.get("missing") else
              f"Checked on {now.strftime('%Y-%m-%d %H:%M UTC')}.", "", "-- mailmigrate"]
    head = [f"From: mailmigrate <mailmigrate@{_domain(user, host)}>", f"To: <{user}>",
            f"Subject: {SUBJECT}", f"Date: {email.utils.format_datetime(now)}",
            f"Message-ID: <{message_id(user, host)}>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _domain(user: str, host: str) -> str:
    return user.rpartition("@")[2] if "@" in user else host


def deliver(target, state, summary: dict, user: str, host: str) -> str:
    """Put the report into INBOX once; returns what happened (for the summary)."""
    mid = message_id(user, host).lower()
    noted = state.meta("report_to_inbox")
    target.select("INBOX")
    if _in_selected(target, mid):
        state.set_meta("report_to_inbox", "sent")
        return "already in INBOX"
    if noted == "sent":
        return "delivered by an earlier run (since removed from INBOX: not sent again)"
    state.set_meta("report_to_inbox", "sending")  # journaled before the APPEND
    data = build(summary, user, host)
    result = target.append_batch("INBOX", [AppendItem(data, ("\\Flagged",),
                                                      dt.datetime.now(dt.timezone.utc))])
    if not result.ok:
        return f"not delivered: the server refused it ({result.text.strip()})"
    state.set_meta("report_to_inbox", "sent")
    return "delivered to INBOX"


def _in_selected(target, mid: str) -> bool:
    """Whether the selected mailbox holds a message with Message-ID *mid*: the
    server searches (an INBOX of a million messages is not fetched); only the
    messages it names are fetched, and the normalised Message-ID decides."""
    found = target.search_header("Message-ID", mid)
    return any(c.message_id == mid for copies in fetched_pages(
        target, target.uids() if found is None else found) for c in copies)
