"""``mailmigrate run``: back up, plan, upload, verify, summarise (``migrate/run.py``).

The command's part: the sources and the account from the options, the session (lock,
log file, stop request), the question before the upload, the summary on the
terminal, and the notification."""

from __future__ import annotations

import json
import logging
import sys

from migrate import report, run_document
from migrate.cli import common
from migrate.cli.session import session
from migrate.errors import MigrateError
from migrate.run import Ask, run_migration
from migrate.run_report import render_summary

log = logging.getLogger("migrate")


def add_parser(sub):
    p = sub.add_parser("run", help="back up the sources, then upload them to the account")
    common.add_command_args(p, "run")
    return p


def run(args) -> int:
    try:
        stores = common.open_stores(args, take=True)
        if args.export_refused:
            from migrate.verify import check_export_dir
            check_export_dir(stores, args.export_refused)
        config = common.target_config(args)
        with session(args, config.host, config.user, write=True) as ctx:
            return _run(args, stores, config, ctx.state, ctx.state_path, ctx.stop)
    except MigrateError as e:  # stopped before the run began: the technician hears it too
        if not getattr(args, "notified", False):
            from migrate.credentials import notify
            notify(args.notify_command, {"who": report.who(args.name, args.sources),
                                         "error": str(e), "exit_code": int(e.exit_code)},
                   e.exit_code)
        raise


def _run(args, stores, config, state, state_path, stop) -> int:
    summary = run_document.begun(report.who(args.name, args.sources, config.user, config.host),
                                 common.filters_of(args).text or None, state_path,
                                 args.language)
    ask = Ask(say=lambda text: say(args, text),
              confirm=_confirm if not args.yes and sys.stdin.isatty() and not args.json
              else None)
    try:
        return run_migration(args, stores, config, state, state_path, stop, summary,
                             common.plan_options(args), ask)
    finally:
        if args.json:
            print(json.dumps(summary, indent=2, default=str))
        elif "totals" in summary:
            print(render_summary(summary))
        if "exit_code" in summary:  # the run began: its end is told (else run() tells)
            from migrate.credentials import notify
            notify(args.notify_command, dict(summary), summary["exit_code"])
            args.notified = True


def _confirm(question: str) -> bool:
    return input(question).strip().lower() in ("y", "yes")


def say(args, text: str) -> None:
    """A line for people on stdout (with --json, stdout carries only the JSON)."""
    if args.json:
        log.info("%s", text)
    else:
        print(text)
