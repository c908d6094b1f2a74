"""Compare the sources with the server, mailbox by mailbox, by fingerprint.

Needs no state database: the plan is rebuilt from the sources and each
mailbox's fingerprints are read back (headers only). A message is *missing*
when no server copy matches it, *duplicated* when the server holds more copies
than the sources account for.
"""

from __future__ import annotations

import collections
import dataclasses

from migrate import headers
from migrate.plan import DONE, PRESENT, UPLOAD, UPLOADED, Plan, PlannedMessage
from migrate.target.imap import IMAPTarget

SHOULD_BE_THERE = (UPLOAD, UPLOADED, DONE, PRESENT)


@dataclasses.dataclass
class MailboxCheck:
    mailbox: str
    expected: int
    on_server: int
    missing: list[PlannedMessage]
    duplicated: int  # extra copies of expected messages
    unexpected: int  # server messages no source message accounts for

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated


def verify_plan(target: IMAPTarget, plan: Plan) -> list[MailboxCheck]:
    """Check every mailbox *plan* sends mail to; read-only on the server."""
    checks = []
    for planned_name, fplans in plan.by_target().items():
        expected = [p for f in fplans for p in f.messages if p.action in SHOULD_BE_THERE]
        if not expected:
            continue
        existing = target.existing_name(planned_name)  # or its fallback spelling
        mailbox = existing or planned_name
        server: dict[str, list[int]] = collections.defaultdict(list)
        total = 0
        if existing:
            target.examine(existing)
            for _, key, size, _ in target.fingerprints(1):
                server[key].append(size)
                total += 1
        missing, wanted = [], collections.Counter(p.header_key for p in expected)
        for p in expected:
            sizes = server.get(p.header_key)
            if sizes:
                sizes.remove(p.size) if p.size in sizes else sizes.pop()
            else:
                missing.append(p)
        leftover = sum(len(v) for v in server.values())
        duplicated = sum(len(server[k]) for k in wanted if server.get(k))
        checks.append(MailboxCheck(mailbox, len(expected), total, missing, duplicated,
                                   leftover - duplicated))
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
                out[msg.location] = {name: values[0].decode("utf-8", "replace")
                                     for name, values in found.items()}
    return out
