"""Arguments and set-up shared by the commands (sources, target, logging)."""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path

from migrate import credentials, options
from migrate.cli import arguments
from migrate.connecting import Connecting
from migrate.errors import UsageError, check_line
from migrate.mapping import MappingRules
from migrate.sources import Store, open_store
from migrate.target.imap import IMAPTarget, TargetConfig

log = logging.getLogger("migrate")
DEFAULT_CONNECTIONS = options.DEFAULT_CONNECTIONS  # measured: docs/performance.md


def add_command_args(p: argparse.ArgumentParser, command: str) -> None:
    """SOURCE... and every option *command* takes, from the one declaration (options.py)."""
    if command in options.SOURCES:  # backup --check ARCHIVE takes none (backup_cmd)
        p.add_argument("sources", nargs="*" if command == "backup" else "+", metavar="SOURCE",
                       help="a local mail store (mbox file, maildir, Thunderbird profile, ...) "
                            "or pop3://USER@HOST for mail still waiting on a POP server")
    arguments.add_arguments(p, command)


def plan_options(args) -> dict:
    """build_plan's keyword arguments from the shared source options."""
    return {"across_folders": args.dedup_across_folders,
            "rules": MappingRules.parse(args.map, args.into),
            "filters": filters_of(args)}


def filters_of(args):
    from migrate.filters import Filters
    return Filters.from_options(args.before, args.since, args.folder, args.exclude_folder,
                                args.max_size)


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
                                     pst_codepage=args.pst_codepage,
                                     pst_reports=args.pst_reports))
    return stores


# --backup-dir has its own check, with the backup's exit code (7), before it writes
_WRITTEN = (("state", "--state"), ("log_file", "--log-file"), ("report", "--report"),
            ("progress_file", "--progress-file"), ("export_refused", "--export-refused"))


def refuse_writes_inside(args) -> None:
    """Sources are read-only: nothing of ours (the state with its lock, logs and work
    file, the log, reports, progress, exported mail) may be written inside one.
    Checked first, before a log file or anything else is opened (the backup
    directory is checked by the backup gate, exit 7)."""
    from migrate.sources.base import path_inside
    from migrate.sources.pop3 import is_pop_url
    from migrate.state import default_state_path
    sources = [s for s in getattr(args, "sources", None) or () if not is_pop_url(str(s))]
    places = [(flag, getattr(args, name, None)) for name, flag in _WRITTEN]
    if not getattr(args, "state", None) and getattr(args, "host", None) and \
            getattr(args, "user", None):
        places.append(("the state (default place)", default_state_path(args.host, args.user)))
    for flag, place in places:
        if place and (root := path_inside(sources, place)) is not None:
            raise UsageError(f"{flag} {place} is inside the source {root}, and nothing is ever "
                             "written into a source; choose a place outside every source")


def _pop_password(args, address):
    def find():
        return credentials.resolve(address.host, address.user, args.pop_password_env,
                                   args.pop_password_file,
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
    if getattr(args, "oauth2_client_id", None):
        from migrate import oauth
        return TargetConfig(host=args.host, user=args.user, port=args.port, tls=args.tls,
                            ca_file=args.ca_file, timeout=args.timeout, provider=args.provider,
                            token_source=oauth.AccessTokens(oauth_app(args), args.user,
                                                            args.host))
    if args.oauth2_token_command:
        command = args.oauth2_token_command
        return TargetConfig(host=args.host, user=args.user, port=args.port, tls=args.tls,
                            ca_file=args.ca_file, timeout=args.timeout, provider=args.provider,
                            token_source=lambda: credentials.token_from_command(command))
    password = credentials.resolve(args.host, args.user, args.password_env, args.password_file,
                                   interactive=None if not getattr(args, "yes", False) else False)
    return TargetConfig(host=args.host, user=args.user, port=args.port, tls=args.tls,
                        ca_file=args.ca_file, timeout=args.timeout, password=password,
                        provider=args.provider,
                        password_from=credentials.origin(args.host, args.user,
                                                         args.password_env,
                                                         args.password_file))


def oauth_app(args):
    """The OAuth 2 app and endpoints the options name (``oauth.app_for``)."""
    from migrate import oauth, providers
    name = args.provider or providers.detect(args.host or "").name
    provider = {"office365": "office365", "outlook": "office365", "gmail": "gmail"}.get(name)
    return oauth.app_for(provider, args.oauth2_client_id, args.oauth2_tenant,
                         args.oauth2_authority, str(args.ca_file) if args.ca_file else None,
                         args.oauth2_client_secret_env)


@contextlib.contextmanager
def read_only_login(config: TargetConfig):
    """``Connecting`` to a read-only target (``plan``, ``verify``): the login overlaps
    the reading of the sources; the connection is logged out at the end."""
    from migrate.target.base import ReadOnlyTarget

    def connect():
        return ReadOnlyTarget(IMAPTarget(config)).__enter__()  # read-only by construction
    connecting = Connecting(connect)
    try:
        yield connecting
    finally:
        connecting.close()


def setup_logging(level: str, log_file=None) -> None:
    from migrate import logs
    logs.setup(level, log_file)
