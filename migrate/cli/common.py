"""Arguments and set-up shared by the commands (sources, target, logging)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from migrate import credentials
from migrate.errors import UsageError, check_line
from migrate.mapping import MappingRules
from migrate.sources import STORE_TYPES, Store, open_store
from migrate.target.imap import IMAPTarget, TargetConfig

log = logging.getLogger("migrate")
DEFAULT_CONNECTIONS = 3  # measured: docs/performance.md (many folders: 69% -> 101% of raw)


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a local mail store (mbox file, maildir, Thunderbird profile, ...) or "
                        "pop3://USER@HOST for mail still waiting on a POP server")
    p.add_argument("--source-type", choices=sorted(STORE_TYPES),
                   help="skip detection and read every SOURCE as this kind")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="TOML file with defaults: [map], into, rate caps (docs/mapping.md)")
    p.add_argument("--map", action="append", metavar="OLD=NEW", default=[],
                   help="put source folder OLD (and its subfolders) into NEW; '/' between "
                        "levels; repeatable")
    p.add_argument("--into", metavar="PARENT",
                   help="put every folder, Inbox and Sent included, under PARENT "
                        "(e.g. 'Imported/Desktop')")
    p.add_argument("--pst-codepage", metavar="CODEPAGE",
                   help="code page of an old (ANSI) .pst file, e.g. cp932 for Japanese; "
                        "default: guessed from the file")
    p.add_argument("--pst-reports", choices=["upload", "skip"], default="upload",
                   help="Outlook delivery/read reports in a .pst: upload them (default) or "
                        "skip them (counted in the plan)")
    p.add_argument("--pop-password-env", metavar="VAR",
                   help="password of a pop3:// source from env var VAR (else the keyring)")
    p.add_argument("--pop-password-file", metavar="FILE",
                   help="password of a pop3:// source from FILE (must be private to you)")
    p.add_argument("--dedup-across-folders", action="store_true",
                   help="upload a message found in several folders only once (default: "
                        "keep it in every folder)")


def add_target_args(p: argparse.ArgumentParser, required: bool) -> None:
    g = p.add_argument_group("target IMAP account")
    g.add_argument("--host", required=required, help="IMAP server name")
    g.add_argument("--port", type=int, help="default 993 for --tls ssl, 143 otherwise")
    g.add_argument("--tls", choices=["ssl", "starttls", "none"], default="ssl",
                   help="ssl (default), starttls, or none (plaintext: explicit only)")
    g.add_argument("--ca-file", help="trust this CA certificate (PEM) for a private CA")
    g.add_argument("--user", help="account user name")
    g.add_argument("--password-env", metavar="VAR", help="read the password from env var VAR")
    g.add_argument("--password-file", metavar="FILE",
                   help="read the password from FILE (must be private to you)")
    g.add_argument("--oauth2-token-command", metavar="CMD",
                   help="log in with XOAUTH2 using the access token CMD prints (Office 365, "
                        "Gmail); run again at every connection")
    g.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)


def add_overnight_args(p: argparse.ArgumentParser) -> None:
    """Options for unattended runs: time limits and machine-readable output."""
    g = p.add_argument_group("unattended runs")
    g.add_argument("--stop-at", metavar="HH:MM",
                   help="stop cleanly at this local time (e.g. 06:30, before business "
                        "hours); the rest is left for the next run (exit code 8)")
    g.add_argument("--max-duration", metavar="TIME",
                   help="stop cleanly after this long (e.g. 6h, 90m, 1h30m)")
    g.add_argument("--json", action="store_true",
                   help="print the final summary as JSON on stdout (for scripts)")


def add_state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="state database (default: per account in your data directory)")


def open_state_readonly(args, config: TargetConfig):
    """The account's state database if it exists, opened read-only (plan and verify write
    nothing); ``--state`` or the default path for the account."""
    from migrate.state import State, default_state_path
    path = args.state or default_state_path(config.host, config.user)
    if not Path(path).exists():
        return None
    state = State(path, readonly=True)
    state.bind(config.host, config.user)
    return state


def plan_options(args) -> dict:
    """build_plan's keyword arguments from the shared source options."""
    load_config(args)
    return {"across_folders": args.dedup_across_folders,
            "rules": MappingRules.parse(args.map, args.into)}


def load_config(args) -> None:
    """Merge ``--config FILE`` into *args* once (command-line options win)."""
    if getattr(args, "config", None) and not getattr(args, "_config_loaded", False):
        from migrate import config
        config.apply(args, config.load(args.config))
        args._config_loaded = True


def open_stores(args, take: bool = False) -> list[Store]:
    """The stores named on the command line; *take*: POP leftovers are downloaded (run)."""
    from migrate.sources.pop3 import Pop3Store, is_pop_url
    stores: list[Store] = []
    for source in args.sources:
        if is_pop_url(str(source)):
            store = Pop3Store(str(source), take=take)
            store.password = _pop_password(args, store.address)
            stores.append(store)
        else:
            stores.append(open_store(Path(source), args.source_type,
                                     pst_codepage=getattr(args, "pst_codepage", None),
                                     pst_reports=getattr(args, "pst_reports", "upload")))
    return stores


def _pop_password(args, address):
    def find():
        return credentials.resolve(address.host, address.user,
                                   getattr(args, "pop_password_env", None),
                                   getattr(args, "pop_password_file", None),
                                   interactive=None if not getattr(args, "yes", False) else False)
    return find


def has_target(args) -> bool:
    return bool(getattr(args, "host", None))


def target_config(args) -> TargetConfig:
    if not args.user:
        raise UsageError("--user is required with --host")
    check_line(args.user, "--user")
    check_line(args.host, "--host")
    if args.tls == "none":
        log.warning("--tls none: the password and mail cross the network unencrypted")
    if args.oauth2_token_command:
        command = args.oauth2_token_command
        return TargetConfig(host=args.host, user=args.user, port=args.port, tls=args.tls,
                            ca_file=args.ca_file, timeout=args.timeout,
                            token_source=lambda: credentials.token_from_command(command))
    password = credentials.resolve(args.host, args.user, args.password_env, args.password_file,
                                   interactive=None if not getattr(args, "yes", False) else False)
    return TargetConfig(host=args.host, user=args.user, port=args.port, tls=args.tls,
                        ca_file=args.ca_file, timeout=args.timeout, password=password)


def connector(config: TargetConfig):
    """A function that returns a new logged-in target (used for reconnects)."""
    return lambda: IMAPTarget(config).connect()


def setup_logging(level: str, log_file=None) -> None:
    from migrate import logs
    logs.setup(level, log_file)
