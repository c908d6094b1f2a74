"""Every command option, declared once.

From :data:`OPTIONS` come the argparse arguments of each command, the keys a
``--config`` TOML file accepts, the keys of a jobs file and the command line a
job's child process gets. Adding an option here makes it settable in all three
places; ``tests/unit/test_options.py`` walks this table to prove it.

Values are resolved in one place (``cli.arguments.resolve``): the command
line wins, then the ``--config`` file, then the declared default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, Callable

from migrate import providers
from migrate.errors import UsageError

MIGRATION = frozenset({"plan", "run", "verify"})
SOURCES = MIGRATION | {"backup"}
TARGET = MIGRATION | {"credentials"}


@dataclasses.dataclass(frozen=True)
class Option:
    dest: str
    help: str
    commands: frozenset
    kind: type | str = str  # str, int, float, bool, Path, "list" (repeatable), "map" (OLD=NEW)
    default: Any = None
    choices: tuple | None = None
    metavar: str | None = None
    required: frozenset = frozenset()  # commands that need it (after the config file)
    group: str = "options"
    hidden: bool = False
    config: bool = True  # settable in a --config file
    jobs: bool = True  # settable in a jobs file (the runner passes it to the child)
    check: Callable[[Any], None] | None = None  # raises UsageError on a bad value

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def toml_type(self) -> tuple:
        return {str: (str,), int: (int,), float: (int, float), bool: (bool,), Path: (str,),
                "list": (list,), "map": (dict,)}[self.kind]


def _positive(value) -> None:
    if value <= 0:
        raise UsageError("must be more than 0")


def _port(value) -> None:
    if not 0 < value < 65536:
        raise UsageError("a port is a number from 1 to 65535")


def _stop_at(value) -> None:
    from migrate.stopping import seconds_until
    seconds_until(value)


def _duration(value) -> None:
    from migrate.stopping import parse_duration
    parse_duration(value)


def _store_types() -> tuple:
    from migrate.sources import STORE_TYPES
    return tuple(sorted(STORE_TYPES))


def _when(value) -> None:
    from migrate.filters import parse_when
    parse_when(value)


def _size(value) -> None:
    from migrate.filters import parse_size
    parse_size(value)


S, T, U = "sources", "target IMAP account", "unattended runs"
F = "what this pass takes (staged cutover; left out = 'later pass', never 'missing')"
OPTIONS: list[Option] = [
    # -- sources ---------------------------------------------------------------
    Option("source_type", "skip detection and read every SOURCE as this kind", SOURCES,
           choices=("mbox", "mbox-tree", "maildir", "eml-tree", "thunderbird", "pst", "mh",
                    "apple-mail", "takeout", "outlook-express", "olm", "msg",
                    "windows-live-mail"), group=S),
    Option("config", "TOML file with defaults for any of these options (docs/mapping.md)",
           SOURCES, kind=Path, metavar="FILE", group=S, config=False, jobs=False),
    Option("map", "put source folder OLD (and its subfolders) into NEW; '/' between levels; "
           "repeatable", SOURCES, kind="map", metavar="OLD=NEW", group=S),
    Option("into", "put every folder, Inbox and Sent included, under PARENT "
           "(e.g. 'Imported/Desktop')", SOURCES, metavar="PARENT", group=S),
    Option("pst_codepage", "code page of an old (ANSI) .pst file, e.g. cp932 for Japanese; "
           "default: guessed from the file", SOURCES, metavar="CODEPAGE", group=S),
    Option("pst_reports", "Outlook delivery/read reports in a .pst: upload them (default) or "
           "skip them (counted in the plan)", SOURCES, default="upload",
           choices=("upload", "skip"), group=S),
    Option("pop_password_env", "password of a pop3:// source from env var VAR (else the "
           "keyring)", SOURCES, metavar="VAR", group=S, config=False, jobs=False),
    Option("pop_password_file", "password of a pop3:// source from FILE (must be private to "
           "you)", SOURCES, metavar="FILE", group=S, config=False, jobs=False),
    Option("before", "this pass takes only messages dated before DATE or AGE (2024-06-30, "
           "30d, 6m, 2y): the pre-stage of a staged cutover", MIGRATION, metavar="DATE|AGE",
           group=F, check=_when),
    Option("since", "this pass takes only messages dated at or after DATE or AGE",
           MIGRATION, metavar="DATE|AGE", group=F, check=_when),
    Option("folder", "this pass takes only source folders matching PATTERN (glob on "
           "'Parent/Child'; children follow their parent); repeatable", MIGRATION, kind="list",
           metavar="PATTERN", group=F),
    Option("exclude_folder", "this pass leaves source folders matching PATTERN (and their "
           "children); repeatable", MIGRATION, kind="list", metavar="PATTERN", group=F),
    Option("max_size", "this pass leaves messages larger than SIZE (500k, 10M) for later",
           MIGRATION, metavar="SIZE", group=F, check=_size),
    Option("full_check", "read every source folder again, also those unchanged since a run "
           "read them (by default their size, times and inode show they need no new read)",
           frozenset({"plan", "run"}), kind=bool, group=S),
    Option("dedup_across_folders", "upload a message found in several folders only once "
           "(default: keep it in every folder)", SOURCES, kind=bool, group=S),
    # -- target ----------------------------------------------------------------
    Option("host", "IMAP server name", TARGET, required=frozenset({"run", "verify",
                                                                    "credentials"}), group=T),
    Option("port", "default 993 for --tls ssl, 143 otherwise", TARGET, kind=int, group=T,
           check=_port),
    Option("tls", "ssl (default), starttls, or none (plaintext: explicit only)", TARGET,
           default="ssl", choices=("ssl", "starttls", "none"), group=T),
    Option("provider", "the provider's profile to apply (limits, reserved names, daily budget; "
           "docs/providers.md) instead of the one detected from the host; 'generic': none",
           TARGET, choices=providers.NAMES, metavar="NAME", group=T),
    Option("ca_file", "trust this CA certificate (PEM) for a private CA", TARGET, kind=Path,
           metavar="FILE", group=T),
    Option("user", "account user name", TARGET, group=T),
    Option("password_env", "read the password from env var VAR", TARGET, metavar="VAR",
           group=T, config=False, jobs=False),
    Option("password_file", "read the password from FILE (must be private to you)", TARGET,
           metavar="FILE", group=T, config=False, jobs=False),
    Option("oauth2_token_command", "log in with XOAUTH2 using the access token CMD prints "
           "(Office 365, Gmail); run again at every connection", TARGET, metavar="CMD",
           group=T),
    Option("oauth2_client_id", "log in with OAuth 2 (XOAUTH2) through this app registration "
           "(its client ID); the person signs in once with 'credentials login' "
           "(docs/providers.md)", TARGET, metavar="ID", group=T),
    Option("oauth2_tenant", "Microsoft 365: the directory (tenant) ID or domain of the app "
           "registration; default: any work account", TARGET, metavar="TENANT", group=T),
    Option("oauth2_authority", "sign in at this OAuth 2 authority (https; its /devicecode and "
           "/token endpoints) instead of the provider's", TARGET, metavar="URL", group=T),
    Option("oauth2_client_secret_env", "the app's client secret from env var VAR (Google's "
           "desktop app clients have one)", TARGET, metavar="VAR", group=T),
    Option("timeout", "seconds to wait for the server", TARGET, kind=float, default=60.0,
           hidden=True, group=T),
    Option("name", "whose mail this is (a person or client), shown on every report; default: "
           "the account's user", MIGRATION, metavar="TEXT"),
    # -- state, backup, reports ------------------------------------------------------
    Option("state", "state database (default: per account in your data directory)",
           MIGRATION, kind=Path, metavar="FILE", jobs=False),
    Option("backup_dir", "where the verified backup of the sources is found or written "
           "(plan: say whether one is there)", MIGRATION | {"backup"}, kind=Path, metavar="DIR",
           required=frozenset({"run"}), jobs=False),  # backup: unless --check (backup_cmd)
    Option("use_backup", "rely on this existing backup (it is verified again, and must hold "
           "exactly the current sources)", frozenset({"run"}), kind=Path, metavar="ARCHIVE",
           config=False, jobs=False),
    Option("compress_backup", "if a backup has to be written, write .tar.gz",
           frozenset({"run"}), kind=bool),
    Option("compress", "write .tar.gz (gzip level 1) instead of plain .tar",
           frozenset({"backup"}), kind=bool),
    Option("report", "also write the report files (plan.json/csv/html, verify.json) into DIR",
           frozenset({"plan", "verify"}), kind=Path, metavar="DIR", config=False, jobs=False),
    Option("export_non_mail", "write the contacts, calendar items, tasks and notes of .pst "
           "and .olm "
           "sources into DIR as .vcf and .ics files (they are never uploaded)",
           frozenset({"plan"}), kind=Path, metavar="DIR", config=False, jobs=False),
    Option("no_speed_probe", "skip measuring the link (no time estimate)", frozenset({"plan"}),
           kind=bool),
    # -- the run --------------------------------------------------------------------
    Option("export_refused", "write each message the server refuses as an .eml file into DIR "
           "(one folder per source folder) so it can be handled by hand",
           frozenset({"run", "verify"}), kind=Path, metavar="DIR", config=False, jobs=False),
    Option("report_to_inbox", "when the run is complete, put one plain message into INBOX "
           "saying the mail has moved (counts per folder, what did not move and why); once "
           "across re-runs", frozenset({"run"}), kind=bool),
    Option("language", "the language of what the client reads: the message put into "
           "their Inbox (--report-to-inbox) and their printable page (jobs)",
           frozenset({"run"}), choices=("en", "de"), default="en"),
    Option("yes", "answer confirmations with yes (unattended runs); never prompts",
           frozenset({"run"}), kind=bool, jobs=False),
    Option("max_messages_per_second", "never send faster than N messages a second on average "
           "(plan: counted in the time estimate)", frozenset({"plan", "run"}), kind=float,
           metavar="N", check=_positive),
    Option("max_bytes_per_day", "upload at most SIZE (500M, 2G) into the account in any 24 "
           "hours, counted across runs; when it is spent the run stops (exit 8) and says when "
           "to continue. Default: the provider's budget (Gmail: 500M); 0: none",
           frozenset({"run"}), metavar="SIZE", check=_size),
    Option("wait_for_budget", "when the daily budget is spent, wait until it frees up instead "
           "of stopping (when the provider says so, by BYE or a crawl, try again hourly)",
           frozenset({"run"}), kind=bool),
    Option("max_bytes_per_second", "never send faster than N bytes a second on average "
           "(Gmail takes about 500 MB a day: 5800; plan: counted in the time estimate)",
           frozenset({"plan", "run"}), kind=float, metavar="N", check=_positive),
    Option("connections", "upload N mailboxes at once, one connection each (plan: for the "
           "time estimate; docs/performance.md)", frozenset({"plan", "run"}), kind=int,
           default=3, metavar="N", check=_positive),
    Option("stop_at", "stop cleanly at this local time (e.g. 06:30, before business hours); "
           "the rest is left for the next run (exit code 8)", frozenset({"run"}),
           metavar="HH:MM", group=U, check=_stop_at),
    Option("max_duration", "stop cleanly after this long (e.g. 6h, 90m, 1h30m)",
           frozenset({"run"}), metavar="TIME", group=U, check=_duration),
    Option("json", "print the final summary as JSON on stdout (for scripts)",
           frozenset({"run"}), kind=bool, group=U, config=False, jobs=False),
    Option("batch_size", "messages per APPEND", frozenset({"run"}), kind=int, default=50,
           hidden=True, check=_positive),
    Option("retry_backoff", "first reconnect delay, seconds", frozenset({"run"}), kind=float,
           default=1.0, hidden=True),
    Option("notify_command", "when the run ends, whatever the outcome, run CMD (no shell) with "
           "the run's summary as JSON on its stdin and MAILMIGRATE_EXIT_CODE set (a mail, a "
           "webhook: docs/msp-runbook.md)", frozenset({"run"}), metavar="CMD", group=U),
    Option("progress_file", "write the upload's numbers to FILE about once a second (the "
           "jobs runner shows them live)", frozenset({"run"}), kind=Path, hidden=True,
           config=False, jobs=False),
    Option("settle_seconds", "how long a mailbox must be still before in-flight batches are "
           "resolved", frozenset({"run"}), kind=float, default=5.0, hidden=True),
]
BY_DEST = {o.dest: o for o in OPTIONS}
DEFAULT_CONNECTIONS = BY_DEST["connections"].default


def for_command(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]


def load_config(path: Path, command: str) -> dict:
    """A --config file, checked against the options *command* takes."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read the config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: {e}") from None
    known = {o.dest: o for o in OPTIONS if o.config}
    for key, value in data.items():
        o = known.get(key)
        if o is None:
            raise UsageError(f"{path}: unknown key {key!r}; known keys: "
                             f"{', '.join(sorted(known))}")
        check_value(o, value, f"{path}: {key!r}")  # "...: 'key': the wrong type ..."
    return data


def check_value(o: Option, value, where: str = "") -> None:
    """A file's value for *o*: its TOML type, choices and own check (messages start
    with *where*)."""
    def bad(text: str) -> UsageError:
        return UsageError(f"{where}: {text}" if where else text)
    kinds = o.toml_type
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise bad(f"the wrong type ({type(value).__name__}); expected "
                  f"{' or '.join(k.__name__ for k in kinds)}")
    if o.kind == "map" and not all(isinstance(v, str) for v in value.values()):
        raise bad("every folder must map to a folder name (a string)")
    if o.choices and value not in o.choices:
        raise bad(f"use {', '.join(o.choices[:-1])} or {o.choices[-1]}")
    if o.check:
        try:
            o.check(value)
        except UsageError as e:
            raise bad(str(e)) from None


def as_argv_values(o: Option, value) -> list[str]:
    """How a file's value for *o* is written on a command line (jobs runner)."""
    if o.kind is bool:
        return [o.flag] if value else []
    if o.kind == "map":
        return [x for old, new in value.items() for x in (o.flag, f"{old}={new}")]
    if o.kind == "list":
        return [x for item in value for x in (o.flag, str(item))]
    return [o.flag, str(value)]
