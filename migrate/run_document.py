"""run.json: what a run did, as data. One typed shape (``RunSummary``), one JSON schema
(``migrate/schemas/run-1.json``, explained in docs/plan-report.md), built here from
the plan, what the upload counted and the end-of-run check, and read back here.

Every page of a run (run.html, the client's page, the Inbox message, the jobs pages)
reads this document, never the engine's objects.
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import islice
from pathlib import Path
from typing import Any, Iterator, TypedDict

from migrate import report
from migrate.plan import FAILED, REFUSE, SKIP, Plan
from migrate.upload.outcome import UploadOutcome
from migrate.verify import DETAIL_LIMIT, MailboxCheck, verdict

RUN_SCHEMA = "mailmigrate-run/1"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "run-1.json"


class BackupLine(TypedDict):
    archive: str
    bytes: int
    verified: bool
    verified_at: str | None
    checked: str


class RunSummary(TypedDict, total=False):
    """run.json. The first eight keys are in every run's document; the rest once the
    run got that far (a run that stopped at its login has no totals)."""

    schema: str
    who: dict[str, Any]  # report.who: name, sources, account
    filters: str | None  # this pass's filters, in words (None: the whole store)
    state: str  # the state database's path
    language: str
    started: str  # ISO 8601, UTC
    finished: str
    exit_code: int  # docs/exit-codes.md
    sources_read: str
    backup: BackupLine
    totals: dict[str, int]  # messages by action (plan.py's words)
    not_moving: list[dict[str, Any]]  # report.not_moving
    uploaded_bytes: int
    folders: list[dict[str, Any]]  # report.plan_rows, as in plan.json
    failed_count: int
    failed: list[dict[str, str]]  # the first DETAIL_LIMIT refused: mailbox, source, reason
    failed_folders: list[dict[str, str]]  # mailbox, reason
    flags_dropped_count: int
    flags_dropped: list[dict[str, str]]
    flags_repaired: int
    copied: int
    verification: list[dict[str, Any]]  # one per mailbox checked
    final_check: dict[str, int]  # by_uid, by_headers
    missing: int
    folders_missing: list[str]
    refused_on_check: int
    altered_count: int
    altered: list[dict[str, str]]
    not_uploaded_count: int
    unread: list[dict[str, Any]]  # files under the sources no reader took
    unread_mail_like: int
    not_uploaded: list[dict[str, Any]]  # the first DETAIL_LIMIT, named for people
    refused_exported: list[str]
    stopped: str
    left_for_next_run: int
    report_to_inbox: str
    error: str
    run_csv: str


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def begun(who: dict[str, Any], filters: str | None, state: Path, language: str) -> RunSummary:
    """A run's document as it starts: what is known before anything is read."""
    return {"schema": RUN_SCHEMA, "who": who, "filters": filters, "state": str(state),
            "started": now(), "language": language}


def counts_of(plan: Plan, outcome: UploadOutcome, checks: list[MailboxCheck]) -> RunSummary:
    """Counts, and the first DETAIL_LIMIT messages of each list (run.csv has all)."""
    totals = dict(plan.totals())
    counts = verdict(checks)
    return {
        "totals": totals,
        "not_moving": report.not_moving(plan),
        "uploaded_bytes": sum(outcome.uploaded_bytes.values()),
        "folders": report.plan_rows(plan),
        "failed_count": outcome.failed_count,
        "failed": [{"mailbox": m, "source": loc, "reason": r}
                   for m, loc, r in outcome.failed[:DETAIL_LIMIT]],
        "failed_folders": [{"mailbox": m, "reason": r} for m, r in outcome.failed_folders],
        "flags_dropped_count": len(outcome.flags_dropped),
        "flags_dropped": [{"mailbox": m, "source": loc, "reason": r}
                          for m, loc, r in outcome.flags_dropped[:DETAIL_LIMIT]],
        "flags_repaired": outcome.flags_repaired,
        "copied": sum(outcome.copied.values()),
        "verification": [{"mailbox": c.mailbox, "exists": c.exists, "expected": c.expected,
                          "on_server": c.on_server, "missing": len(c.missing),
                          "refused": len(c.refused), "altered": len(c.altered),
                          "duplicated": c.duplicated, "unexpected": c.unexpected,
                          **({"unopened": c.unopened} if c.unopened else {})}
                         for c in checks],
        "final_check": {  # run confirms by the UIDs the server gave; verify compares all
            "by_uid": sum(c.matched_by.get("uid", 0) for c in checks),
            "by_headers": sum(c.matched_by.get("headers", 0) for c in checks)},
        "missing": counts["missing"],
        "folders_missing": counts["folders_missing"],
        "refused_on_check": counts["refused"],
        "altered_count": sum(len(c.altered) for c in checks),
        "altered": list(islice(({"mailbox": c.mailbox, "source": p.location}
                                for c in checks for p in c.altered), DETAIL_LIMIT)),
        "not_uploaded_count": sum(totals.get(a, 0) for a in (SKIP, REFUSE, FAILED)),
        "unread": report.unread_rows(plan),
        "unread_mail_like": sum(item.mail_like for item in plan.unread()),
        "not_uploaded": list(islice(not_uploaded(plan), DETAIL_LIMIT)),
    }


def not_uploaded(plan: Plan) -> Iterator[dict[str, Any]]:
    """A row per message that did not move (skipped, refused, failed), in source order,
    with its subject, date and sender read again from the source: a client knows a
    message by those, not by "Inbox at byte 47950"."""
    from migrate.verify import described
    for f in plan.folders:
        for p, who in described(f, f.messages.where(SKIP, REFUSE, FAILED)):
            yield {"folder": f.folder.display_name, "mailbox": f.target, "source": p.location,
                   "action": p.action, "reason": p.reason, "subject": who.get("subject"),
                   "date": who.get("date"), "from": who.get("from")}


def path_of(state: Path) -> Path:
    """Where a state's run document is: beside it."""
    return Path(state).with_suffix(".run.json")


def write(state: Path, summary: RunSummary) -> Path:
    """Beside the state, whole or not at all (``report.write_json``)."""
    path = path_of(state)
    report.write_json(path, summary)
    return path


class NotARunDocument(ValueError):
    """The file is there but holds no run's document (damaged, edited, another kind)."""


def read(path: Path) -> RunSummary | None:
    """A run document; None when there is none. One that cannot be read (not JSON, not
    an object, another schema) is ``NotARunDocument``; an older mailmigrate wrote no
    schema value: read as version 1."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise NotARunDocument(f"{Path(path).name} cannot be read ({e})") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise NotARunDocument(f"{Path(path).name} is not JSON") from None
    if not isinstance(data, dict) or data.get("schema", RUN_SCHEMA) != RUN_SCHEMA:
        raise NotARunDocument(f"{Path(path).name} is not a run's document")
    summary: RunSummary = data  # type: ignore[assignment]  # its schema: tests check
    return summary
