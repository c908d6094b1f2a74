"""``run``, the whole pipeline: the sources read into the plan while the backup is found
or written and the login made; the upload once the backup is verified; the check at
the end; the run's documents (run.json, run.html, run.csv) beside the state.

The CLI (``cli/run_cmd.py``) calls ``run_migration`` (the jobs runner runs that command,
a process a job); it owns the terminal (what is asked, what is shown) and the
notification.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Callable

from migrate import backup, report, run_document
from migrate.connecting import Connecting, connector
from migrate.errors import ExitCode, MigrateError
from migrate.plan import FAILED, REFUSE, SKIP, UPLOAD, Plan, build_plan
from migrate.progress import Progress, byte_bar
from migrate.quickcheck import Facts, FileHashes
from migrate.run_document import RunSummary
from migrate.run_report import write_run_csv, write_run_report
from migrate.sources.base import SKIP_DELETED, SKIP_REPORT, SKIP_TRASHED
from migrate.state import State
from migrate.stopping import Stopped, StopRequest
from migrate.target.imap import TargetConfig
from migrate.upload import Uploader, UploadOptions
from migrate.workers import WorkerLost

log = logging.getLogger("migrate")


class BackupGate:
    """The gate's verified backup: found, or written while the plan reads the sources.

    Both only read the sources, so a backup that has to be written is written
    in a thread meanwhile (not for POP leftovers, whose files the plan's
    reading downloads: their gate is passed after the plan); the upload still
    waits for it, verified (``result``). A failure is raised by ``check`` as
    soon as it happens.
    """

    def __init__(self, stores, use: Path | None, backup_dir: Path, compress: bool,
                 known=None):
        self.stores, self.known = stores, known
        self.use, self.backup_dir, self.compress = use, backup_dir, compress
        self.found: backup.BackupResult | None = None
        self._error: BaseException | None = None
        self._counts: dict | None = None
        self._planned, self._cancelled = threading.Event(), threading.Event()
        self._learned: list[tuple] = []  # file hashes for the state, kept on this thread
        self._thread = None
        if all(s.files_fixed for s in stores):
            self.found = self._find()
            if self.found is None:
                self._thread = threading.Thread(target=self._write_caught, name="backup",
                                                daemon=True)
                self._thread.start()

    def _find(self) -> backup.BackupResult | None:
        if self.use:
            log.info("verifying the backup %s", self.use)
            return backup.use_backup(self.stores, self.use)
        found = backup.find_verified_backup(self.stores, self.backup_dir, known=self.known)
        if found:
            log.info("using verified backup %s", found.archive)
        return found

    def _write(self, known) -> backup.BackupResult:
        log.info("writing a backup of the sources to %s", self.backup_dir)
        with byte_bar(backup.source_bytes(self.stores), "backing up") as bar:
            return backup.create_backup(self.stores, self.backup_dir, progress=bar,
                                        counts=self._counts_from_plan,
                                        compress=self.compress, known=known,
                                        cancelled=self._cancelled)

    def _write_caught(self) -> None:
        try:
            self.found = self._write(self)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self._error = e

    def remember(self, *learned) -> None:
        """``known.remember`` from the backup's thread: the state is written on the main one."""
        self._learned.append(learned)

    def _counts_from_plan(self) -> dict | None:
        self._planned.wait()
        if self._cancelled.is_set():
            raise backup.BackupCancelled()
        return self._counts

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def result(self, counts: dict) -> backup.BackupResult:
        """The verified backup; *counts* (the plan's) go into its manifest."""
        self._counts = counts
        self._planned.set()
        if self._thread is None:
            if self.found is None:
                self.found = self._find() or self._write(self.known)
            return self.found
        self._thread.join()
        self.check()
        for learned in self._learned:
            if self.known:
                self.known.remember(*learned)
        if self.found is None:
            raise RuntimeError("the backup's thread ended without a backup or an error")
        return self.found

    def cancel(self) -> None:
        """Stop a backup still being written (its archive is removed)."""
        if self._thread is not None and self._thread.is_alive():
            self._cancelled.set()
            self._planned.set()
            self._thread.join()


def daily_budget(given: str | None, provider) -> int | None:
    """--max-bytes-per-day (0: none), else the provider's daily upload budget."""
    if given is not None:
        from migrate.filters import parse_size
        return parse_size(given) or None
    return provider.daily_bytes


def allowed_connections(wanted: int, provider) -> int:
    """--connections, at most what the provider allows an account at once."""
    if provider.max_connections and wanted > provider.max_connections:
        log.warning("%s takes at most %d connections at once; using %d", provider.title,
                    provider.max_connections, provider.max_connections)
        return provider.max_connections
    return max(1, wanted)


def plan_counts(plan) -> dict:
    """Per store: messages, and those the source itself says not to migrate (for the manifest)."""
    counts: dict = {}
    for f in plan.folders:
        c = counts.setdefault(str(f.store.path), {"messages": 0, "skipped_by_source": 0,
                                                  "not_mail": len(f.store.non_mail)})
        c["messages"] += len(f.messages)
        c["skipped_by_source"] += f.counts().get(SKIP, 0)
    return counts


USER_INTENT = {SKIP_DELETED, SKIP_TRASHED, SKIP_REPORT}  # the user meant these to stay behind


def deliver_report(connect, state, summary: RunSummary, config: TargetConfig) -> str:
    from migrate import report_mail
    target = connect()
    try:
        return report_mail.deliver(target, state, summary, config.user, config.host,
                                   summary.get("language", "en"))
    finally:
        target.close()


def could_not_move(plan) -> int:
    """Messages that should have moved and could not: exit 1 (docs/exit-codes.md).

    What the user deleted or trashed in the mail client (and reports skipped with
    --pst-reports skip) is named in the summary but is no reason for exit 1.
    """
    return sum(n for f in plan.folders for (action, reason), n in f.messages.by_reason().items()
               if action in (REFUSE, FAILED) or (action == SKIP and reason not in USER_INTENT))


@dataclasses.dataclass
class Ask:
    """What the run needs from whoever started it (the command: its terminal)."""

    say: Callable[[str], None]  # a line for people
    confirm: Callable[[str], bool] | None = None  # a question before the upload; None: go


class Parts:
    """What one run holds open, for the steps and for ``close``."""

    def __init__(self, connect):
        self.connect = connect
        self.connecting = Connecting(connect)  # logs in while the sources are read
        self.gate: BackupGate | None = None
        self.plan: Plan | None = None
        self.first = None  # the login the plan was named on, until the uploader adopts it
        self.uploader: Uploader | None = None
        self.checks: list = []

    def close(self) -> None:
        self.connecting.close()
        if self.gate is not None:
            self.gate.cancel()
        for connection in (self.first, self.uploader):
            if connection is not None:
                connection.close()


def run_migration(options, stores, config: TargetConfig, state: State, state_path: Path,
                  stop: StopRequest, summary: RunSummary, plan_options: dict, ask: Ask) -> int:
    """``run``: back up, plan, upload, check, write the run's documents; the exit code.
    *options*: the command's options (``options.py`` names them), whoever filled them;
    *summary* is filled in as the run goes (the caller shows it, also after an error)."""
    run_id = state.start_run("run")
    code: int = ExitCode.INTERNAL
    parts = Parts(connector(config))
    try:
        connected_at = _plan_and_back_up(options, stores, state, state_path, stop, summary,
                                         plan_options, ask, parts)
        plan = parts.plan
        assert plan is not None
        question = (f"Upload up to {plan.totals().get(UPLOAD, 0)} messages to {config.user} "
                    f"at {config.host}? [y/N] ")
        if ask.confirm is not None and not ask.confirm(question):
            ask.say("nothing uploaded")
            code = ExitCode.SUCCESS
            return code
        stop.check()
        code = _upload_and_check(options, state, stop, summary, parts, connected_at, run_id)
        if options.report_to_inbox and code in (ExitCode.SUCCESS, ExitCode.SKIPPED) \
                and not summary.get("filters") and parts.uploader is not None:
            connect = parts.connect  # after the final pass, not a pre-stage
            summary["report_to_inbox"] = parts.uploader.with_retries(
                lambda: deliver_report(connect, state, summary, config))
            ask.say(f"report: {summary['report_to_inbox']}")
        return code
    except MigrateError as e:
        code = e.exit_code
        summary.setdefault("error", str(e))
        raise
    finally:
        parts.close()
        summary["finished"] = run_document.now()
        summary["exit_code"] = int(code)
        try:  # a full disk must not hide the error that ended the run
            if parts.plan is not None and "totals" in summary:
                summary["run_csv"] = str(Path(state_path).with_suffix(".run.csv"))
            state.end_run(run_id, int(code), dict(summary))
            write_run_report(Path(state_path), summary)
            if summary.get("run_csv"):
                write_run_csv(Path(summary["run_csv"]), parts.plan, parts.checks,
                              parts.uploader.outcome.flags_dropped if parts.uploader else ())
        except (MigrateError, OSError) as e:
            log.error("the run summary could not be saved beside the state: %s", e)


def _plan_and_back_up(options, stores, state: State, state_path: Path, stop: StopRequest,
                      summary: RunSummary, plan_options: dict, ask: Ask, parts: Parts) -> float:
    """Read the sources into the plan while the backup is found or written and the login
    made; nothing is uploaded before the backup is verified and the sources are as
    they were. When the login was made (the upload goes on with it)."""
    connecting = parts.connecting
    before = backup.source_stats(stores)  # the sources as the backup and the plan begin
    gate = parts.gate = BackupGate(stores, options.use_backup, options.backup_dir,
                                   options.compress_backup,
                                   FileHashes(state, full=options.full_check))

    def check():
        connecting.check()
        gate.check()
    facts = Facts(state, full=options.full_check)
    try:
        plan = parts.plan = build_plan(stores, lambda: connecting.wait().layout, **plan_options,
                                       facts=facts, spool_dir=Path(state_path).parent,
                                       check=check)
    except WorkerLost:
        stop.check()  # Ctrl-C reaches the whole group: a worker still starting may
        raise  # end of it, and then the stop asked for is what happened, not a loss
    # the upload goes on with the connection the plan was named on, if still fresh
    parts.first, connected_at = connecting.take()
    summary["sources_read"] = ("every folder (--full-check)" if options.full_check else
                               f"{len(plan.folders) - len(facts.reused)} of "
                               f"{len(plan.folders)} folders (the others had not changed "
                               "since a run read them)")
    # nothing is uploaded before this succeeds
    result = gate.result(plan_counts(plan))
    backup.check_unchanged(plan.folders, before)  # and as they both ended
    state.record_backup(result.manifest_sha256, str(result.archive))
    summary["backup"] = {"archive": str(result.archive), "bytes": result.size,
                         "verified": result.verified,
                         "verified_at": result.verified_at.isoformat()
                         if result.verified_at else None,
                         "checked": backup.verified_words(result)}
    ask.say(f"backup: {result.archive} ({report.human_size(result.size)}, "
            f"{backup.verified_words(result)})")
    return connected_at


def _upload_and_check(options, state: State, stop: StopRequest, summary: RunSummary,
                      parts: Parts, connected_at: float, run_id: int) -> int:
    """Upload, then the end-of-run check (not after a stop); the run's exit code."""
    plan, first = parts.plan, parts.first
    assert plan is not None and first is not None
    stopped = None
    with Progress(plan, progress_file=options.progress_file) as progress:
        upload_options = UploadOptions(
            batch_messages=options.batch_size, backoff_base=options.retry_backoff,
            connections=allowed_connections(options.connections, first.provider),
            max_messages_per_second=options.max_messages_per_second,
            max_bytes_per_second=options.max_bytes_per_second, stop=stop,
            settle_seconds=options.settle_seconds,
            max_bytes_per_day=daily_budget(options.max_bytes_per_day, first.provider),
            wait_for_budget=options.wait_for_budget)
        uploader = parts.uploader = Uploader(parts.connect, state, plan, upload_options,
                                             progress=progress.message_done,
                                             settled=progress.settle)
        uploader.adopt(first, connected_at)
        parts.first = None
        try:
            uploader.run()
        except Stopped as e:
            stopped = e
        except MigrateError:  # code and error are recorded by the caller; keep the counts
            summary.update(run_document.counts_of(plan, uploader.outcome, []))
            raise
    parts.checks = [] if stopped else uploader.verify()
    summary.update(run_document.counts_of(plan, uploader.outcome, parts.checks))
    if options.export_refused:
        from migrate.verify import export_refused
        summary["refused_exported"] = [str(p) for p, _ in
                                       export_refused(plan, options.export_refused)]
    state.record_plan(run_id, plan)
    left = summary["totals"].get(UPLOAD, 0)
    if stopped:
        summary["stopped"] = str(stopped)
        summary["left_for_next_run"] = left
        return stopped.exit_code
    summary["missing"] += left  # defensive: every planned upload must be settled
    bad = could_not_move(plan) + summary["unread_mail_like"]
    if summary["missing"] or summary["folders_missing"]:
        return ExitCode.VERIFY_FAILED
    return ExitCode.SKIPPED if bad or summary["failed_folders"] else ExitCode.SUCCESS
