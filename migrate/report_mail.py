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
import email.header
import email.utils
import hashlib
from typing import Any, Mapping

from migrate.reconcile import fetched_pages
from migrate.report import counted
from migrate.sources.base import SKIP_REASONS
from migrate.target.base import AppendItem

SUBJECT = "Your mail has been moved"  # English; words.py has the others
NAMED_PER_REASON = 20  # messages named under each (folder, reason); the rest counted
NAMED_AT_MOST = 200


def message_id(user: str, host: str, update: int | None = None) -> str:
    """The report's Message-ID; an update's says how many had moved when it was made."""
    token = hashlib.sha256(f"{user}@{host}".encode()).hexdigest()[:24]
    return f"mailmigrate-report.{token}{f'.n{update}' if update else ''}@mailmigrate.invalid"


def moved_total(summary: Mapping[str, Any]) -> int:
    t = summary["totals"]
    return t.get("uploaded", 0) + t.get("done", 0)


def build(summary: Mapping[str, Any], user: str, host: str, now: dt.datetime | None = None,
          language: str = "en", update_of: int | None = None) -> bytes:
    """The report as a plain-text message (CRLF, ASCII headers, UTF-8 body). With
    *update_of* (how many the last report said had moved) it is an update."""
    from migrate.report_html import message_words, short_date
    from migrate.words import reason as reason_in
    from migrate.words import say
    now = now or dt.datetime.now(dt.timezone.utc)
    t, moved = summary["totals"], moved_total(summary)
    lines = [say(language, "moved_to", user=user), ""]
    if update_of is not None:
        lines += [say(language, "update_since", more=moved - update_of), ""]
    lines += [say(language, "moved", moved=moved, there=t.get("present", 0)), "",
              say(language, "per_folder")]
    for f in summary.get("folders", []):
        done = f.get("uploaded", 0) + f.get("done", 0) + f.get("present", 0)
        lines.append(f"  {f['folder']} -> {f['target']}: "
                     + say(language, "of", done=done, all=f["messages"]))
    groups: dict[tuple, list[dict]] = {}
    for item in summary.get("not_uploaded", []):
        groups.setdefault((item["folder"], item["reason"] or item["action"]), []).append(item)
    if groups:
        lines += ["", say(language, "not_moved")]
        named = 0
        for (folder, why), items in groups.items():
            english = SKIP_REASONS.get(why, why)
            lines.append(f"  {folder}: {len(items)} x {reason_in(language, why, english)}")
            for item in items[:NAMED_PER_REASON]:
                if named < NAMED_AT_MOST:
                    lines.append(f"    - {message_words(item, language)}")
                    named += 1
        count = counted(summary, "not_uploaded")
        if count > named:
            lines.append("  " + say(language, "and_more", more=count - named))
    when = short_date(email.utils.format_datetime(now)) + " UTC"
    lines += ["", say(language, "checked_ok", when=when) if not summary.get("missing") else
              say(language, "checked", when=when), "", "-- mailmigrate"]
    subject = say(language, "subject_update" if update_of is not None else "subject")
    if not subject.isascii():  # RFC 2047: headers stay ASCII
        subject = email.header.Header(subject, "utf-8").encode()
    head = [f"From: mailmigrate <mailmigrate@{_domain(user, host)}>", f"To: <{user}>",
            f"Subject: {subject}",
            f"Date: {email.utils.format_datetime(now)}",
            f"Message-ID: <{message_id(user, host, moved if update_of is not None else None)}>",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _domain(user: str, host: str) -> str:
    return user.rpartition("@")[2] if "@" in user else host


def deliver(target, state, summary: Mapping[str, Any], user: str, host: str,
            language: str = "en") -> str:
    """Put the report into INBOX once; when a later run has moved more since (mail added
    to a source, a pass after the cutover), one update saying so. Returns what happened
    (for the summary)."""
    moved = moved_total(summary)
    target.select("INBOX")
    reported = state.meta("report_to_inbox_moved")  # set once a report is in
    if state.meta("report_to_inbox") == "sent" or reported is not None:
        reported = int(reported or moved)  # a state from before updates: as now
        if moved <= reported:
            if _in_selected(target, message_id(user, host).lower()):
                return "already in INBOX"
            return "delivered by an earlier run (since removed from INBOX: not sent again)"
        return _send(target, state, build(summary, user, host, language=language,
                                          update_of=reported),
                     message_id(user, host, moved), moved, "an update delivered to INBOX")
    return _send(target, state, build(summary, user, host, language=language),
                 message_id(user, host), moved, "delivered to INBOX")


def _send(target, state, data: bytes, mid: str, moved: int, done: str) -> str:
    """APPEND *data* unless a message with *mid* is in INBOX (an earlier run's, sent
    just before a crash); journaled before the APPEND."""
    if _in_selected(target, mid.lower()):
        state.set_meta("report_to_inbox", "sent")
        state.set_meta("report_to_inbox_moved", str(moved))
        return "already in INBOX"
    state.set_meta("report_to_inbox", "sending")
    result = target.append_batch("INBOX", [AppendItem(data, ("\\Flagged",),
                                                      dt.datetime.now(dt.timezone.utc))])
    if not result.ok:
        return f"not delivered: the server refused it ({result.text.strip()})"
    state.set_meta("report_to_inbox", "sent")
    state.set_meta("report_to_inbox_moved", str(moved))
    return done


def _in_selected(target, mid: str) -> bool:
    """Whether the selected mailbox holds a message with Message-ID *mid*: the
    server searches (an INBOX of a million messages is not fetched); only the
    messages it names are fetched, and the normalised Message-ID decides."""
    found = target.search_header("Message-ID", mid)
    return any(c.message_id == mid for copies in fetched_pages(
        target, target.uids() if found is None else found) for c in copies)
