"""Compare the sources with the server, mailbox by mailbox, by fingerprint.

Needs no state database: the plan is rebuilt from the sources and each
mailbox's fingerprints are read back (headers only, EXAMINE: read-only).
With a state database, messages it records as uploaded count as expected
too (they are DONE in the plan). For each mailbox:

* *missing*: a message the plan says belongs there, with no server copy;
* *duplicated*: server copies beyond what the sources account for, of a
  message that is expected there;
* *unexpected*: server messages no source message accounts for (mail that
  was there before, or was put there by someone else). Not an error.
"""

from __future__ import annotations

import collections
import dataclasses

from migrate import headers
from migrate.plan import DONE, PRESENT, UPLOAD, UPLOADED, Plan, PlannedMessage, apply_server_view
from migrate.plan import ServerFolderIndex
from migrate.target.imap import IMAPTarget

SHOULD_BE_THERE = (UPLOAD, UPLOADED, DONE, PRESENT)
DETAIL_LIMIT = 1000  # server messages described per mailbox and kind


@dataclasses.dataclass
class MailboxCheck:
    mailbox: str
    expected: int
    on_server: int
    missing: list[PlannedMessage]
    duplicated_uids: list[int]  # extra copies of expected messages
    unexpected_uids: list[int]  # server messages no source message accounts for
    details: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)  # uid -> headers

    @property
    def duplicated(self) -> int:
        return len(self.duplicated_uids)

    @property
    def unexpected(self) -> int:
        return len(self.unexpected_uids)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated_uids


def expect_refusals(target: IMAPTarget, plan: Plan, done_hashes=None) -> None:
    """Settle a fresh plan as a run would: what the server refuses is not expected.

    Also marks DONE what the state database (*done_hashes(mailbox)*) records.
    """
    for mailbox, fplans in plan.by_target().items():
        apply_server_view(fplans, ServerFolderIndex(),
                          done_hashes(mailbox) if done_hashes else set(), target.limits)


def verify_plan(target: IMAPTarget, plan: Plan, describe_server: bool = False
                ) -> list[MailboxCheck]:
    """Check every mailbox *plan* sends mail to; read-only on the server."""
    checks = []
    for planned_name, fplans in plan.by_target().items():
        expected = [p for f in fplans for p in f.messages if p.action in SHOULD_BE_THERE]
        if not expected:
            continue
        existing = target.existing_name(planned_name)  # or its fallback spelling
        mailbox = existing or planned_name
        server: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
        total = 0
        if existing:
            target.examine(existing)
            for uid, key, size, _ in target.fingerprints(1):
                server[key].append((uid, size))
                total += 1
        missing = []
        wanted = {p.header_key for p in expected}
        for p in expected:
            copies = server.get(p.header_key)
            if not copies:
                missing.append(p)
                continue
            same = [c for c in copies if c[1] == p.size]
            copies.remove(same[0] if same else copies[0])
        duplicated = sorted(uid for k in wanted for uid, _ in server.get(k, []))
        unexpected = sorted(uid for k, copies in server.items() if k not in wanted
                            for uid, _ in copies)
        check = MailboxCheck(mailbox, len(expected), total, missing, duplicated, unexpected)
        if describe_server and existing and (duplicated or unexpected):
            check.details = target.header_fields(
                duplicated[:DETAIL_LIMIT] + unexpected[:DETAIL_LIMIT])
        checks.append(check)
    return checks


def describe(plan: Plan, messages: list[PlannedMessage]) -> dict[str, dict]:
    """Message-ID, Date, From, Subject of *messages*, re-read from their sources."""
    wanted = {id(p): p for p in messages}
    by_folder: dict[int, set] = collections.defaultdict(set)
    for f in plan.folders:
        for p in f.messages:
            if id(p) in wanted:
                by_folder[id(f)].add(p.key)
    out = {}
    for f in plan.folders:
        keys = by_folder.get(id(f))
        if not keys:
            continue
        for msg in f.folder.messages():
            if msg.key in keys:
                found = headers.get_headers(msg.data, {"message-id", "date", "from", "subject"})
                out[msg.location] = {name: headers.decode_words(values[0])
                                     for name, values in found.items()}
    return out


def check_report(checks: list[MailboxCheck], plan: Plan) -> dict:
    """The verification as data (verify.json): per mailbox, every problem named."""
    missing = [p for c in checks for p in c.missing]
    source = describe(plan, missing) if missing else {}

    def server_rows(c: MailboxCheck, uids: list[int]) -> list[dict]:
        return [{"uid": uid, **_fields(c.details.get(uid, {}))} for uid in uids]

    return {
        "schema": "mailmigrate-verify/1",
        "ok": not missing,
        "missing": len(missing),
        "duplicated": sum(c.duplicated for c in checks),
        "unexpected": sum(c.unexpected for c in checks),
        "mailboxes": [{
            "mailbox": c.mailbox, "expected": c.expected, "on_server": c.on_server,
            "missing": [{"source": p.location, **_fields(source.get(p.location, {}))}
                        for p in c.missing],
            "duplicated": server_rows(c, c.duplicated_uids),
            "unexpected": server_rows(c, c.unexpected_uids),
        } for c in checks],
    }


def _fields(found: dict[str, str]) -> dict[str, str | None]:
    return {"message_id": found.get("message-id"), "date": found.get("date"),
            "from": found.get("from"), "subject": found.get("subject")}
