"""Many migrations from one TOML jobs file, for MSP technicians.

    # clients.toml
    [defaults]                       # shared by every job; a job's own keys win
    host = "imap.example.net"
    backup_dir = "D:/mm/{job}/backup"   # {job} is the job's name
    stop_at = "06:30"

    [jobs.acme-ann]
    sources = ["C:/Users/ann/AppData/Roaming/Thunderbird/Profiles/x.default"]
    user = "ann@acme.example"
    password = "keyring"             # or "env:VAR", "file:PATH"; never the password itself

Every job runs as its own ``mailmigrate`` process (one failing never stops
the others) with its own state, log files and reports under
``work_dir/<job>/``. The whole file is checked before anything starts, and
every problem is reported with its line and key.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import difflib
import json
import os
import re
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

from migrate import options
from migrate.errors import UsageError
from migrate.sources.pop3 import is_pop_url

# Keys only a jobs file has (where things are, which secret); every other key is an
# option from migrate/options.py that some job command takes. Paths are relative to
# the jobs file.
OWN_KEYS: dict[str, tuple[type | tuple, str]] = {
    "sources": ((list, str), "local stores or pop3:// URLs"),
    "password": (str, "where the password is: keyring (default), env:VAR or file:PATH"),
    "pop_password": (str, "for pop3:// sources: keyring (default), env:VAR or file:PATH"),
    "backup_dir": (str, "where the verified backup is written or found"),
    "state": (str, "state database file"),
    "work_dir": (str, "where states, logs and reports go (default: <jobs file>-work/)"),
}
JOB_COMMANDS = ("plan", "run", "verify")
OPTION_KEYS = {o.dest: o for o in options.OPTIONS
               if o.jobs and o.commands & set(JOB_COMMANDS)}
PATH_OPTIONS = {o.dest for o in OPTION_KEYS.values() if o.kind is Path}
KEYS: dict[str, tuple[type | tuple, str]] = {
    **OWN_KEYS, **{k: (o.toml_type, o.help) for k, o in OPTION_KEYS.items()}}
REQUIRED = ("sources", "host", "user")
STATES = {0: "ok", 1: "ok (some not uploaded)", 2: "usage error", 3: "connection error",
          4: "auth error", 5: "account full", 6: "verify failed", 7: "backup error",
          8: "stopped at time limit", 70: "internal error", 130: "interrupted"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclasses.dataclass
class Job:
    name: str
    settings: dict
    base: Path  # the jobs file's directory

    def path(self, key: str, default: Path | None = None) -> Path | None:
        """The setting *key* as a path (see :meth:`path_of`), or *default* if unset."""
        value = self.settings.get(key)
        return default if value is None else self.path_of(str(value))

    @property
    def work_dir(self) -> Path:
        configured = self.path("work_dir")
        return configured / self.name if configured is not None else \
            self.base / "work" / self.name

    @property
    def state(self) -> Path:
        return self.path("state") or self.work_dir / "state.sqlite"

    @property
    def progress_file(self) -> Path:
        return self.work_dir / "progress.json"

    @property
    def backup_dir(self) -> Path:
        return self.path("backup_dir") or self.work_dir / "backup"

    @property
    def sources(self) -> list[str]:
        found = self.settings["sources"]
        found = [found] if isinstance(found, str) else found
        return [s if "://" in s else str(self.path_of(s)) for s in found]

    def path_of(self, value: str) -> Path:
        """{job} replaced, ~ expanded, relative to the jobs file."""
        path = Path(value.replace("{job}", self.name)).expanduser()
        return path if path.is_absolute() else self.base / path

    # -- the command lines (never with a secret in them) --------------------

    def option_args(self, command: str) -> list[str]:
        """The job's settings that *command* takes, as options (from options.py)."""
        args: list[str] = []
        for key, o in OPTION_KEYS.items():
            if command in o.commands and key in self.settings:
                value = self.settings[key]
                if key in PATH_OPTIONS:
                    value = str(self.path_of(value))
                args += options.as_argv_values(o, value)
        return args

    def _password_args(self, key: str, option: str) -> list[str]:
        ref = self.settings.get(key, "keyring")
        if ref.startswith("env:"):
            return [option + "-env", ref[4:]]
        if ref.startswith("file:"):
            return [option + "-file", str(self.path_of(ref[5:]))]
        return []  # keyring: looked up by (host, user) in the child

    def command(self, name: str, log_file: Path) -> list[str]:
        argv = [sys.executable, "-m", "migrate", "--log-file", str(log_file), name]
        if name == "status":
            return argv + ["--state", str(self.state), "--json"]
        if "name" not in self.settings:  # whose mail: the job's own name unless it says
            argv += ["--name", self.name]
        argv += self.option_args(name) + self._password_args("password", "--password") \
            + self._password_args("pop_password", "--pop-password") \
            + ["--state", str(self.state)]
        if name == "plan":
            argv += ["--report", str(self.work_dir / "plan"), "--backup-dir",
                     str(self.backup_dir)]
        elif name == "verify":
            argv += ["--report", str(self.work_dir / "verify")]
        elif name == "run":
            argv += ["--backup-dir", str(self.backup_dir), "--yes", "--json",
                     "--progress-file", str(self.progress_file)]
        return argv + ["--"] + self.sources  # a source is never read as an option


# -- reading and checking the file ------------------------------------------


def _check_paths(job: Job, table: str, problem) -> None:
    """The job's sources exist and can be read (or are POP URLs), and its password
    files exist (named, never read aloud)."""
    for source in job.sources if "sources" in job.settings else ():
        if "://" in source:
            if not is_pop_url(source) or any(c in source for c in "\r\n\0"):
                problem(table, "sources", f"{source!r}: only local paths and "
                        "pop3:// or pop3s:// URLs are sources")
            continue
        if not Path(source).exists():
            problem(table, "sources", f"{source} does not exist; fix the path")
        elif not os.access(source, os.R_OK):
            problem(table, "sources", f"{source} is not readable by this user")
    for key in ("password", "pop_password"):
        ref = job.settings.get(key, "")
        if isinstance(ref, str) and ref.startswith("file:") and ref[5:]:
            where = job.path_of(ref[5:])
            if not where.is_file():
                problem(table, key, f"the password file {where} does not exist")


def load(path: Path, check_sources: bool = True) -> list[Job]:
    """Read and check the whole jobs file; UsageError lists every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read the jobs file {path}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}") from None
    lines = text.splitlines()
    problems: list[str] = []

    def problem(table: str, key: str | None, message: str) -> None:
        line = _line_of(lines, table, key)
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: [{table}]{' ' + key if key else ''}: {message}")

    for key in data:
        if key not in ("defaults", "jobs"):
            problem(key, None, "unknown table; a jobs file has [defaults] and [jobs.NAME]")
    defaults = data.get("defaults", {})
    _check_keys("defaults", defaults, problem)
    jobs_table = data.get("jobs", {})
    if not isinstance(jobs_table, dict) or not jobs_table:
        problems.append(f"{path}: no jobs: add at least one [jobs.NAME] table")
        jobs_table = {}
    jobs = []
    for name, own in jobs_table.items():
        table = f"jobs.{name}"
        if not isinstance(own, dict):
            problem("jobs", name, "must be a table [jobs.NAME]")
            continue
        if not _NAME.match(name):
            problem(table, None, "job names may use letters, digits, '.', '_' and '-'")
        _check_keys(table, own, problem)
        settings = {**defaults, **own}
        for key in REQUIRED:
            if key not in settings:
                problem(table, None, f"missing {key!r} ({KEYS[key][1]}); add it here or in "
                                     "[defaults]")
        job = Job(name, settings, path.parent.resolve())
        if check_sources:
            _check_paths(job, table, problem)
        jobs.append(job)
    if problems:
        raise UsageError(f"the jobs file has {len(problems)} problem(s); nothing was started:\n  "
                         + "\n  ".join(problems))
    return jobs


def _check_keys(table: str, values: dict, problem) -> None:
    for key, value in values.items():
        if key not in KEYS:
            near = difflib.get_close_matches(key, KEYS, n=1)
            problem(table, key, "unknown key" + (f" (did you mean {near[0]!r}?)" if near else
                                                 f"; known keys: {', '.join(sorted(KEYS))}"))
            continue
        kinds = KEYS[key][0]
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            problem(table, key, f"should be {_type_name(kinds)}, not {type(value).__name__}")
            continue
        try:
            if key in OPTION_KEYS:
                options.check_value(OPTION_KEYS[key], value)
            if key == "sources" and isinstance(value, list) and (
                    not value or not all(isinstance(v, str) for v in value)):
                raise UsageError("a list of paths (strings), at least one")
            if key in ("password", "pop_password"):
                _check_password_ref(value)
        except UsageError as e:  # a mistyped password is never repeated back
            shown = "" if key in ("password", "pop_password") else f"{value!r}: "
            problem(table, key, f"{shown}{e}")


def _check_password_ref(value: str) -> None:
    if value == "keyring":
        return
    if value.startswith("env:") and value[4:]:
        if not os.environ.get(value[4:]):
            raise UsageError(f"the environment variable {value[4:]} is not set here")
        return
    if value.startswith("file:") and value[5:]:
        return  # checked against the jobs file's folder in load(): _check_password_file
    raise UsageError("write where the password is, not the password: 'keyring', 'env:VAR' or "
                     "'file:PATH' (store it with 'mailmigrate credentials set')")


def _type_name(kinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    names = {str: "text in quotes", int: "a whole number", float: "a number", bool: "true or "
             "false", list: "a list [...]", dict: "a table"}
    return " or ".join(names[k] for k in kinds)


def _line_of(lines: list[str], table: str, key: str | None) -> int | None:
    """Line number (1-based) of *key* in [*table*], or of the table header."""
    header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(
        '"?' + re.escape(part) + '"?' for part in table.split(".", 1)) + r"\s*\]")
    start = None
    for number, line in enumerate(lines, 1):
        if start is None:
            if header.match(line):
                start = number
                if key is None:
                    return number
            continue
        if re.match(r"^\s*\[", line):
            break
        if key is not None and re.match(r'^\s*"?' + re.escape(key) + r'"?\s*=', line):
            return number
    return start


# -- running ------------------------------------------------------------------


@dataclasses.dataclass
class JobResult:
    name: str
    command: str
    exit_code: int
    log_file: Path
    output_file: Path
    data: dict  # what the job's JSON said (run summary, plan.json, verify.json, status)
    error: str | None = None
    started: str | None = None  # local time, ISO 8601 with its offset
    ended: str | None = None

    @property
    def state(self) -> str:
        duplicated = (self.data or {}).get("duplicated") if self.command == "verify" else 0
        if self.exit_code in (0, 1) and isinstance(duplicated, int) and duplicated:
            return f"{duplicated} duplicated"  # nothing missing, but not "ok": mail doubled
        return STATES.get(self.exit_code, f"failed (exit {self.exit_code})")

    def counts(self) -> dict:
        """The few numbers of the one-line summary, by command."""
        d = self.data or {}
        if self.command == "run":
            from migrate.report import run_meanings
            return {**run_meanings(d), "missing": d.get("missing", 0)} \
                if d.get("totals") else {}
        if self.command == "plan" and "summary" in d:
            from migrate.report import meanings
            s, m = d["summary"], meanings(d["summary"])
            return {"to move now": m["now"], "bytes": s["upload_bytes"],
                    "moved earlier": m["earlier"], "already in the account": m["there"],
                    "left for a later pass": m["later"], "will not move": m["never"],
                    "fits": s["fits"], "time": (s["estimate"] or {}).get("text")}
        if self.command == "verify" and "mailboxes" in d:
            return {"missing": d["missing"], "duplicated": d["duplicated"],
                    "not from sources": d["unexpected"]}
        if self.command == "status" and "mailboxes" in d:
            return {"mailboxes": len(d["mailboxes"]),
                    "moved": sum(c.get("uploaded", 0) for c in d["mailboxes"].values())}
        return {}


def run_job(job: Job, command: str, env: dict | None = None) -> JobResult:
    """Run one job as its own process; its output goes to files under its work dir."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logs = job.work_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{command}-{stamp}.log"
    output_file = logs / f"{command}-{stamp}.output.txt"
    argv = job.command(command, log_file)
    started = time.time()
    began = now_iso()
    if command == "run":
        job.progress_file.unlink(missing_ok=True)  # a previous night's numbers are not today's
    with open(output_file, "w", encoding="utf-8") as err:
        if stopping.is_set():
            err.write("mailmigrate: not started: the jobs run was stopped\n")
            return JobResult(job.name, command, 130, log_file, output_file, {},
                             "not started: the jobs run was stopped", began, now_iso())
        # own process group: a Ctrl-C reaches the jobs runner only, which passes it on once
        group: dict[str, Any] = {"start_new_session": True}
        if sys.platform == "win32":
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                                 stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                                 errors="replace", env=env, **group)  # a job writes UTF-8
        with _children_lock:
            _children.add(child)
        try:
            stdout, _ = child.communicate()
        finally:
            with _children_lock:
                _children.discard(child)
    ended = now_iso()
    done = subprocess.CompletedProcess(argv, child.returncode, stdout)
    with open(output_file, "a", encoding="utf-8") as out:
        out.write(done.stdout)
    data: dict = {}
    if command in ("run", "status"):
        try:
            data = json.loads(done.stdout) if done.stdout.strip() else {}
        except ValueError:
            data = {}
    else:
        found = job.work_dir / command / f"{command}.json"  # this run's, not an older one
        try:
            if found.stat().st_mtime >= started - 1:
                data = json.loads(found.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}  # none written, or not readable: the exit code and output say why
    error = data.get("error") if isinstance(data, dict) else None
    code, killed = exit_code_of(done.returncode)
    if killed:  # a signal, the OOM killer, Task Manager: never "ok" for cron and monitoring
        error = f"{killed}; nothing it sent is lost: run the same command again"
    if command == "status" and code == 0:
        code, error = last_outcome(data)
    if code not in (0, 1) and not error:
        error = _last_error(output_file)
    if code in (8, 130) and command != "status" and not killed:
        error = "stopped; continues with the same command"
    return JobResult(job.name, command, code, log_file, output_file, data, error, began, ended)


def now_iso() -> str:
    """The local time with its offset, to the second: what a technician reads."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


_WINDOWS_CTRL_C = 0xC000013A  # STATUS_CONTROL_C_EXIT: a process ended by Ctrl-C/Break


def exit_code_of(returncode: int) -> tuple[int, str | None]:
    """A job process's exit status as the runner reports it: (code, how it was killed
    or None). A process killed by a signal (POSIX: negative) or ended by Ctrl-C on
    Windows counts as interrupted (130): a kill -9 was "exit -9", and the highest of the
    jobs' codes, 0, told cron all was well."""
    import signal
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return 130, f"killed by {name}"
    if returncode == _WINDOWS_CTRL_C:
        return 130, "ended by Ctrl-C or Ctrl-Break"
    return returncode, None


def failed_to_run(job: Job, command: str, e: Exception) -> JobResult:
    """The result of a job the runner itself could not start or read (its work folder
    cannot be written, ...): named in the summary like any failed job."""
    logs = job.work_dir / "logs"
    return JobResult(job.name, command, 70, logs / "-", logs / "-", {},
                     f"the jobs runner could not run this job ({type(e).__name__}: {e}); "
                     "fix that, then run the same command again", now_iso(), now_iso())


def last_outcome(status: dict) -> tuple[int, str | None]:
    """The exit code of the job's last run, as its state records it (status --json)."""
    runs = [r for r in (status or {}).get("runs", []) if r[1] == "run"]
    if not runs:
        return 0, "not run yet"
    run_id, _, started, ended, code = runs[0]  # newest first
    if ended is None or code is None:
        return 130, f"the run of {started} did not finish (killed or lost power); run again"
    return int(code), (status.get("errors") or {}).get(str(run_id)) if code else None


_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()
stopping = threading.Event()  # set on the first stop signal: start no further job


def forward_signal() -> int:
    """Ask every running job to stop cleanly (each finishes its batches in flight and
    writes its summary): SIGTERM on POSIX; on Windows, where send_signal(SIGTERM) is a
    hard kill, CTRL_BREAK_EVENT to the job's own process group (it was started in one),
    which it takes as a stop request (the signal the runner got is never passed on:
    Ctrl-Break itself cannot be sent as SIGBREAK)."""
    stopping.set()
    with _children_lock:
        running = [c for c in _children if c.poll() is None]
    for child in running:
        try:
            child.send_signal(stop_signal())
        except (OSError, ValueError):
            pass
    return len(running)


def stop_signal(windows: bool = os.name == "nt") -> int:
    """What asks a job to stop cleanly on this system (``forward_signal``)."""
    import signal
    return getattr(signal, "CTRL_BREAK_EVENT", 1) if windows else signal.SIGTERM


def _last_error(path: Path) -> str | None:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith("mailmigrate:")]
    return lines[-1].removeprefix("mailmigrate:").strip() if lines else None


def account_of(job: Job) -> tuple[str, str]:
    """The account a job moves mail into: runs into one must never overlap."""
    return (str(job.settings.get("host", "")).strip().lower(),
            str(job.settings.get("user", "")).strip().lower())


def shared_accounts(jobs: list[Job]) -> dict[tuple[str, str], list[str]]:
    """Accounts more than one job moves mail into -> those jobs, in file order."""
    by_account: dict[tuple[str, str], list[str]] = {}
    for job in jobs:
        by_account.setdefault(account_of(job), []).append(job.name)
    return {a: names for a, names in by_account.items() if len(names) > 1}


def run_jobs(jobs: list[Job], command: str, parallel: int = 1, on_done=None) -> list[JobResult]:
    """Run *command* for every job, *parallel* at a time; results in the jobs' order.

    Jobs into one account run one after the other, in file order (one person's old
    PST and Thunderbird profile: the second then sees the first's mail on the server
    and sends none of it again); each job's own account lock guards the rest."""
    results: dict[str, JobResult] = {}
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault(account_of(job), []).append(job)

    def in_turn(group: list[Job]) -> None:
        for job in group:
            try:
                result = run_job(job, command)
            except Exception as e:  # noqa: BLE001 - that job's failure, never the summary's
                result = failed_to_run(job, command, e)
            results[result.name] = result
            if on_done:
                on_done(result)

    with concurrent.futures.ThreadPoolExecutor(max(1, parallel)) as pool:
        for future in [pool.submit(in_turn, group) for group in groups.values()]:
            future.result()
    return [results[job.name] for job in jobs]


def worst_exit_code(results: list[JobResult]) -> int:
    return max((r.exit_code for r in results), default=0)
