"""``mailmigrate run``: back up, plan, upload, verify, summarise."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import sys
import threading
from itertools import islice
from pathlib import Path

from migrate import backup, report
from migrate.cli import common
from migrate.cli.backup_cmd import source_bytes
from migrate.cli.session import session
from migrate.errors import ExitCode, MigrateError
from migrate.plan import DONE, FAILED, PRESENT, REFUSE, SKIP, UPLOAD, UPLOADED, build_plan
from migrate.progress import Progress, byte_bar
from migrate.quickcheck import Facts, FileHashes
from migrate.sources.base import SKIP_DELETED, SKIP_REPORT, SKIP_TRASHED
from migrate.stopping import Stopped
from migrate.upload import Uploader, UploadOptions
from migrate.verify import DETAIL_LIMIT, verdict
from migrate.workers import WorkerLost

log = logging.getLogger("migrate")
SHOWN = 20  # messages of each list in the summary's terminal lines (all in run.csv)


def add_parser(sub):
    p = sub.add_parser("run", help="back up the sources, then upload them to the account")
    common.add_command_args(p, "run")
    return p


class BackupGate:
    """The gate's verified backup: found, or written while the plan reads the sources.

    Both only read the sources, so a backup that has to be written is written
    in a thread meanwhile (not for POP leftovers, whose files the plan's
    reading downloads: their gate is passed after the plan); the upload still
    waits for it, verified (``result``). A failure is raised by ``check`` as
    soon as it happens.
    """

    def __init__(self, stores, args, known=None):
        self.stores, self.args, self.known = stores, args, known
        self.found = self._error = None
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
        if self.args.use_backup:
            log.info("verifying the backup %s", self.args.use_backup)
            return backup.use_backup(self.stores, self.args.use_backup)
        found = backup.find_verified_backup(self.stores, self.args.backup_dir, known=self.known)
        if found:
            log.info("using verified backup %s", found.archive)
        return found

    def _write(self, known) -> backup.BackupResult:
        log.info("writing a backup of the sources to %s", self.args.backup_dir)
        with byte_bar(source_bytes(self.stores), "backing up") as bar:
            return backup.create_backup(self.stores, self.args.backup_dir, progress=bar,
                                        counts=self._counts_from_plan,
                                        compress=self.args.compress_backup, known=known,
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


def _run(args, stores, config, state, state_path, stop) -> int:  # noqa: C901 - to split (issue 38)
    run_id = state.start_run("run")
    summary: dict = {"who": report.who(args.name, args.sources, config.user, config.host),
                     "filters": common.filters_of(args).text or None,
                     "state": str(state_path), "started": _now(),
                     "language": args.language}
    code = ExitCode.INTERNAL
    first = uploader = plan = None
    checks: list = []
    connect = common.connector(config)
    connecting = common.Connecting(connect)  # logs in while the sources are read
    gate = None
    try:
        before = backup.source_stats(stores)  # the sources as the backup and the plan begin
        gate = BackupGate(stores, args, FileHashes(state, full=args.full_check))

        def check():
            connecting.check()
            gate.check()
        facts = Facts(state, full=args.full_check)
        try:
            plan = build_plan(stores, lambda: connecting.wait().layout,
                              **common.plan_options(args), facts=facts,
                              spool_dir=Path(state_path).parent, check=check)
        except WorkerLost:
            stop.check()  # Ctrl-C reaches the whole group: a worker still starting may
            raise  # end of it, and then the stop asked for is what happened, not a loss
        # the upload goes on with the connection the plan was named on, if still fresh
        first, connected_at = connecting.take()
        summary["sources_read"] = ("every folder (--full-check)" if args.full_check else
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
        say(args, f"backup: {result.archive} ({report.human_size(result.size)}, "
                  f"{backup.verified_words(result)})")
        if not args.yes and sys.stdin.isatty() and not args.json:
            total = plan.totals()
            answer = input(f"Upload up to {total.get(UPLOAD, 0)} messages to {config.user} at "
                           f"{config.host}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing uploaded")
                code = ExitCode.SUCCESS
                return code
        stop.check()
        stopped = None
        with Progress(plan, progress_file=args.progress_file) as progress:
            options = UploadOptions(
                batch_messages=args.batch_size, backoff_base=args.retry_backoff,
                connections=allowed_connections(args.connections, first.provider),
                max_messages_per_second=args.max_messages_per_second,
                max_bytes_per_second=args.max_bytes_per_second, stop=stop,
                settle_seconds=args.settle_seconds,
                max_bytes_per_day=daily_budget(args.max_bytes_per_day, first.provider),
                wait_for_budget=args.wait_for_budget)
            uploader = Uploader(connect, state, plan, options, progress=progress.message_done,
                                settled=progress.settle)
            uploader.adopt(first, connected_at)
            first = None
            try:
                uploader.run()
            except Stopped as e:
                stopped = e
            except MigrateError:  # code and error are recorded below; keep the counts
                summary.update(run_summary(plan, uploader, []))
                raise
        checks = [] if stopped else uploader.verify()
        summary.update(run_summary(plan, uploader, checks))
        if args.export_refused:
            from migrate.verify import export_refused
            summary["refused_exported"] = [str(p) for p, _ in
                                           export_refused(plan, args.export_refused)]
        state.record_plan(run_id, plan)
        left = summary["totals"].get(UPLOAD, 0)
        if stopped:
            summary["stopped"] = str(stopped)
            summary["left_for_next_run"] = left
            code = stopped.exit_code
        else:
            summary["missing"] += left  # defensive: every planned upload must be settled
            bad = could_not_move(plan) + summary["unread_mail_like"]
            code = ExitCode.VERIFY_FAILED if summary["missing"] or summary["folders_missing"] \
                else (ExitCode.SKIPPED if bad or summary["failed_folders"] else ExitCode.SUCCESS)
            if args.report_to_inbox and code in (ExitCode.SUCCESS, ExitCode.SKIPPED) \
                    and not summary.get("filters"):  # after the final pass, not a pre-stage
                summary["report_to_inbox"] = uploader.with_retries(
                    lambda: _deliver_report(connect, state, summary, config))
                say(args, f"report: {summary['report_to_inbox']}")
        return code
    except MigrateError as e:
        code = e.exit_code
        summary.setdefault("error", str(e))
        raise
    finally:
        connecting.close()
        if gate is not None:
            gate.cancel()
        for connection in (first, uploader):
            if connection is not None:
                connection.close()
        summary["finished"] = _now()
        summary["exit_code"] = int(code)
        try:  # a full disk must not hide the error that ended the run
            if plan is not None and "totals" in summary:
                summary["run_csv"] = str(Path(state_path).with_suffix(".run.csv"))
            state.end_run(run_id, int(code), summary)
            write_run_report(Path(state_path), summary)
            if summary.get("run_csv"):
                write_run_csv(Path(summary["run_csv"]), plan, checks,
                              uploader.outcome.flags_dropped if uploader else ())
        except (MigrateError, OSError) as e:
            log.error("the run summary could not be saved beside the state: %s", e)
        if args.json:
            print(json.dumps(summary, indent=2, default=str))
        elif "totals" in summary:
            print(render_summary(summary))
        from migrate.credentials import notify
        notify(args.notify_command, summary, code)
        args.notified = True


USER_INTENT = {SKIP_DELETED, SKIP_TRASHED, SKIP_REPORT}  # the user meant these to stay behind


def _deliver_report(connect, state, summary, config) -> str:
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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def say(args, text: str) -> None:
    """A line for people on stdout (with --json, stdout carries only the JSON)."""
    if args.json:
        log.info("%s", text)
    else:
        print(text)


def write_run_report(state_path: Path, summary: dict) -> None:
    """run.json and run.html beside the state database (the morning report), and
    client.html, the page the client keeps (prints on one or two A4 pages)."""
    from migrate.report_html import render_run_html
    from migrate.report_person import render_person_page
    report.write_json(state_path.with_suffix(".run.json"), summary)
    if "totals" in summary:
        state_path.with_suffix(".run.html").write_text(render_run_html(summary),
                                                        encoding="utf-8")
        state_path.with_suffix(".client.html").write_text(render_person_page(summary),
                                                           encoding="utf-8")


def run_summary(plan, uploader, checks) -> dict:
    """run.json: counts, and the first DETAIL_LIMIT messages of each list (run.csv has all)."""
    totals = dict(plan.totals())
    counts = verdict(checks)
    return {
        "totals": totals,
        "not_moving": report.not_moving(plan),
        "uploaded_bytes": sum(uploader.outcome.uploaded_bytes.values()),
        "folders": report.plan_rows(plan),
        "failed_count": uploader.outcome.failed_count,
        "failed": [{"mailbox": m, "source": loc, "reason": r}
                   for m, loc, r in uploader.outcome.failed[:DETAIL_LIMIT]],
        "failed_folders": [{"mailbox": m, "reason": r}
                           for m, r in uploader.outcome.failed_folders],
        "flags_dropped_count": len(uploader.outcome.flags_dropped),
        "flags_dropped": [{"mailbox": m, "source": loc, "reason": r}
                          for m, loc, r in uploader.outcome.flags_dropped[:DETAIL_LIMIT]],
        "flags_repaired": uploader.outcome.flags_repaired,
        "copied": sum(uploader.outcome.copied.values()),
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
        "unread": report.unread_rows(plan),  # files under the sources no reader took
        "unread_mail_like": sum(item.mail_like for item in plan.unread()),
        "not_uploaded": list(islice(not_uploaded(plan), DETAIL_LIMIT)),
    }


def not_uploaded(plan):
    """A row per message that did not move (skipped, refused, failed), in source order,
    with its subject, date and sender read again from the source: a client knows a
    message by those, not by "Inbox at byte 47950"."""
    from migrate.verify import described
    for f in plan.folders:
        for p, who in described(f, f.messages.where(SKIP, REFUSE, FAILED)):
            yield {"folder": f.folder.display_name, "mailbox": f.target, "source": p.location,
                   "action": p.action, "reason": p.reason, "subject": who.get("subject"),
                   "date": who.get("date"), "from": who.get("from")}


RUN_CSV_FIELDS = ("folder", "mailbox", "subject", "date", "from", "source", "what", "why")


def write_run_csv(path: Path, plan, checks, flags_dropped=()) -> None:
    """<state>.run.csv: every message that did not move, or is not as sent, a row each
    (run.json and run.html name the first DETAIL_LIMIT of each kind)."""
    from migrate.report_html import ACTION_WORDS
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(RUN_CSV_FIELDS)
        for row in not_uploaded(plan):
            out.writerow([report.csv_cell(v) for v in (
                row["folder"], row["mailbox"], row["subject"], row["date"], row["from"],
                row["source"], ACTION_WORDS.get(row["action"], row["action"]),
                report.SKIP_REASONS.get(row["reason"], row["reason"] or ""))])
        for mailbox, location, reason in flags_dropped:
            out.writerow([report.csv_cell(v) for v in (
                "", mailbox, "", "", "", location, "stored without its keywords", reason)])
        for c in checks:
            for kind, what, why in (
                    ("missing", "missing on the server after upload",
                     "run the same command again to upload it"),
                    ("altered", "stored, changed by the server on arrival", "")):
                for p in getattr(c, kind):
                    out.writerow([report.csv_cell(v) for v in (
                        "", c.mailbox, "", "", "", p.location, what, why)])


def _shown(summary: dict, key: str, line: str, more: str) -> list[str]:
    """The first SHOWN rows of summary[key] as *line*s, then how many more (*more*)."""
    rows = summary.get(key, [])[:SHOWN]
    out = [line.format(**row) for row in rows]
    left = report.counted(summary, key) - len(rows)
    return out + ([more.format(left)] if left > 0 else [])


def render_summary(summary: dict) -> str:
    t = summary["totals"]
    lines = ["", "Summary:"]
    if summary.get("stopped"):
        lines.append(f"  STOPPED EARLY: {summary['stopped']}")
        lines.append(f"  left for the next run: {summary['left_for_next_run']} messages")
    if summary.get("error"):
        lines.append(f"  STOPPED BY AN ERROR: {summary['error']}")
    copied = summary.get("copied")
    lines += [f"  moved now:              {t.get(UPLOADED, 0)}" + (
                  f" ({copied} of them copied on the server from another folder: "
                  "sent once)" if copied else ""),
              f"  moved earlier:          {t.get(DONE, 0)}",
              f"  already in the account: {t.get(PRESENT, 0)}",
              f"  duplicates skipped:     {t.get('duplicate', 0)}",
              f"  skipped (source):       {t.get(SKIP, 0)}",
              f"  refused (limits):       {t.get(REFUSE, 0)}",
              f"  refused by the server:  {t.get(FAILED, 0)}"]
    if summary.get("filters"):
        lines.append(f"  left for a later pass: {t.get('later', 0)} (this pass: "
                     f"{summary['filters']})")
    lines.append("  why messages did not move:" if summary["not_moving"] else "")
    for item in summary["not_moving"]:
        if item["action"] not in (DONE, PRESENT, "later"):
            lines.append(f"    {item['messages']} x {item['reason']}")
    csv_name = summary.get("run_csv") or "the run report"
    lines += _shown(summary, "failed", "    failed: {source}: {reason}",
                    f"    ... and {{}} more refused by the server ({csv_name} names every one)")
    for f in summary.get("failed_folders", []):
        lines.append(f"    folder skipped: {f['mailbox']}: {f['reason']}")
    lines += _shown(summary, "flags_dropped", "    stored without keywords: {source}: {reason}",
                    f"    ... and {{}} more stored without keywords ({csv_name} names every "
                    "one)")
    if summary.get("flags_repaired"):
        lines.append(f"  flags added back after upload (the server dropped them): "
                     f"{summary['flags_repaired']} messages")
    lines += _shown(summary, "altered",
                    "    stored, changed by the server on arrival: {source} (in {mailbox})",
                    f"    ... and {{}} more changed on arrival ({csv_name} names every one)")
    checked = summary["verification"]
    if summary.get("stopped") or summary.get("error"):
        lines.append("  verification: not run (the run did not finish)")
    else:
        lines.append(f"  verification: {len(checked)} mailboxes checked, "
                     f"{sum(c['expected'] for c in checked)} messages expected, "
                     f"{summary['missing']} missing, "
                     f"{summary.get('refused_on_check', 0)} refused by the server, "
                     f"{report.counted(summary, 'altered')} changed by the server, "
                     f"{sum(c['duplicated'] for c in checked)} duplicated")
        how = summary.get("final_check")
        if how:
            lines.append(f"    found by the UID the server gave: {how['by_uid']}, by their "
                         f"headers: {how['by_headers']} ('mailmigrate verify' compares the "
                         "headers of every message)")
        if summary.get("folders_missing"):
            missing = ", ".join(summary["folders_missing"])
            lines.append(f"  folders missing on the server: {missing}")
        lines += [f"  {c['mailbox']}: not checked: {c['unopened']}" for c in checked
                  if c.get("unopened")]
    if summary.get("sources_read"):
        lines.append(f"  sources read: {summary['sources_read']}")
    lines += ["  " + line for line in report.unread_lines(summary.get("unread", []))]
    b = summary.get("backup")
    if b:
        lines.append(f"  backup: {b['archive']} ({report.human_size(b['bytes'])}, "
                     f"{b.get('checked') or ('verified' if b['verified'] else 'NOT verified')})")
    return "\n".join(lines)
