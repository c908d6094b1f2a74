"""``mailmigrate status``: what the state database says, per mailbox. Offline."""

from __future__ import annotations

import json
from pathlib import Path

from migrate.cli.session import session
from migrate.errors import UsageError
from migrate.state import FAILED, INFLIGHT, PRESENT, UPLOADED


def add_parser(sub):
    p = sub.add_parser("status", help="show what earlier runs did (from the state database)")
    p.add_argument("--state", type=Path, metavar="FILE")
    p.add_argument("--host", help="with --user: find the default state file of that account")
    p.add_argument("--user")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run(args) -> int:
    if args.state is None and not (args.host and args.user):
        raise UsageError("give --state FILE, or --host and --user to find the default one")
    with session(args, args.host, args.user, must_exist=True) as ctx:
        state = ctx.state
        counts = state.counts()
        for mailbox, skipped in state.skipped_counts().items():
            counts.setdefault(mailbox, {}).update(skipped)
        failed = state.db.execute(
            "SELECT mailbox, source, reason FROM messages WHERE status=? ORDER BY mailbox",
            (FAILED,)).fetchall()
        runs = state.db.execute(
            "SELECT id, command, datetime(started, 'unixepoch'), datetime(ended, 'unixepoch'),"
            " exit_code FROM runs ORDER BY id DESC LIMIT 10").fetchall()
        summaries = state.db.execute(
            "SELECT id, summary FROM runs ORDER BY id DESC LIMIT 10").fetchall()
        passes = {run_id: _pass_of(summary) for run_id, summary in summaries}
        errors = {run_id: _error_of(summary) for run_id, summary in summaries}
    if args.json:
        print(json.dumps({"mailboxes": counts, "failed": [list(f) for f in failed],
                          "runs": [list(r) for r in runs],
                          "passes": {str(k): list(v) for k, v in passes.items()},
                          "errors": {str(k): v for k, v in errors.items() if v}}, indent=2))
        return 0
    cols = [UPLOADED, PRESENT, INFLIGHT, FAILED, "duplicate", "skip", "refuse"]
    width = max([len("mailbox")] + [len(m) for m in counts])
    print("mailbox".ljust(width) + "".join(c.rjust(10) for c in cols))
    for mailbox in sorted(counts):
        print(mailbox.ljust(width)
              + "".join(str(counts[mailbox].get(c, 0)).rjust(10) for c in cols))
    for mailbox, source, reason in failed:
        print(f"  failed in {mailbox}: {source}: {reason}")
    print("\nlast runs:")
    for run_id, command, started, ended, code in runs:
        moved, filters = passes.get(run_id, (None, None))
        what = f", moved {moved}" if moved is not None else ""
        which = f", this pass: {filters}" if filters else (", all mail" if moved is not None
                                                            else "")
        print(f"  #{run_id} {command} {started} -> {ended or 'did not finish'} exit {code}"
              f"{what}{which}")
    return 0


def _error_of(summary: str | None) -> str | None:
    """What stopped a run, from its summary JSON (a sign-in to renew names the person)."""
    try:
        data = json.loads(summary) if summary else {}
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None


def _pass_of(summary: str | None) -> tuple[int | None, str | None]:
    """(messages moved, the pass's filters) from a run's summary JSON."""
    try:
        data = json.loads(summary) if summary else {}
    except ValueError:
        return None, None
    totals = data.get("totals")
    return (totals.get("uploaded", 0) if totals else None), data.get("filters")
