"""Command line: one module per command; only ``main`` maps errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from migrate import __version__
from migrate.cli import (
    arguments,
    backup_cmd,
    credentials_cmd,
    discover_cmd,
    jobs_cmd,
    plan_cmd,
    restore_cmd,
    run_cmd,
    status_cmd,
    verify_cmd,
)
from migrate.errors import ExitCode, MigrateError
from migrate.logs import redact

COMMANDS = [plan_cmd, backup_cmd, run_cmd, verify_cmd, status_cmd, restore_cmd,
            credentials_cmd, discover_cmd, jobs_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailmigrate",
        description="Move mail from local POP-era stores into an IMAP account, safely.")
    parser.add_argument("--version", action="version", version=f"mailmigrate {__version__}")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"],
                        help="what the terminal shows (a log file always gets everything)")
    parser.add_argument("--log-file", type=Path, metavar="FILE",
                        help="also log everything, with timestamps, to FILE (run: default a "
                             "new file per run beside the state database)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        p = module.add_parser(sub)
        p.set_defaults(func=module.run)
        p.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # also after COMMAND
        p.add_argument("--log-file", type=Path, default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Everything printed passes ``SafeStream``:
    names and subjects from mail reach the terminal as text, never as control."""
    from migrate.textsafe import SafeStream, writable
    out, err = sys.stdout, sys.stderr
    writable(out)
    writable(err)
    sys.stdout, sys.stderr = SafeStream(out), SafeStream(err, keep="\r")
    try:
        return _main(argv)
    finally:
        if isinstance(sys.stdout, SafeStream):
            sys.stdout = out
        sys.stderr = err


def _main(argv: list[str] | None) -> int:
    if os.name != "nt":
        os.umask(0o077)  # everything written (state, -wal/-shm, logs, reports, caches) is private
    parser = build_parser()
    args = parser.parse_args(argv)
    from migrate.cli.common import refuse_writes_inside, setup_logging
    try:
        refuse_writes_inside(args)
        setup_logging(args.log_level, args.log_file)
    except MigrateError as e:
        print(f"mailmigrate: {redact(str(e))}", file=sys.stderr)
        return int(e.exit_code)
    except OSError as e:  # the log file cannot be made there
        print(f"mailmigrate: cannot write the log file {args.log_file} ({e.strerror}); choose "
              "another --log-file", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        if args.command in ("plan", "run", "verify", "backup") or \
                getattr(args, "action", None) == "test":
            arguments.resolve(args, args.command)
        return int(args.func(args))
    except MigrateError as e:
        logging.getLogger("migrate").debug("stopping: %s", e)
        print(f"mailmigrate: {redact(str(e))}", file=sys.stderr)
        return int(e.exit_code)
    except BrokenPipeError:  # output piped into head/less that closed early: not an error
        sys.stdout = open(os.devnull, "w")
        return int(ExitCode.SUCCESS)
    except KeyboardInterrupt:
        print("mailmigrate: interrupted; state is saved, run the same command again "
              "to continue", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception:  # last resort: a bug (logged with its traceback)
        logging.getLogger("migrate").exception("unexpected error (a bug; please report it)")
        return int(ExitCode.INTERNAL)
