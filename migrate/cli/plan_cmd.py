"""``mailmigrate plan``: what would happen. Changes nothing anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

from migrate import backup, report
from migrate.cli import common
from migrate.cli.session import session
from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.quickcheck import Facts
from migrate.report_html import write_plan_report
from migrate.survey import survey


def add_parser(sub):
    p = sub.add_parser("plan", help="dry run: show what would move where (changes nothing)")
    common.add_command_args(p, "plan")
    return p


def backup_status(stores, backup_dir: Path) -> str:
    """The backup step as the plan shows it: found and verified, or what run will write."""
    from migrate.backup_prune import freeable
    found = backup.find_verified_backup(stores, backup_dir)
    old, old_bytes = freeable(backup_dir)
    prune = (f" {old} older archive(s) ({report.human_size(old_bytes)}) can go: mailmigrate "
             f"backup --prune --backup-dir {backup_dir}" if old else "")
    if found:
        return (f"Backup: {found.archive} ({report.human_size(found.size)}) holds exactly these "
                "sources and is verified; run will use it." + prune)
    total = sum(f.stat().st_size for s in stores for f in s.files())
    probe = Path(backup_dir)
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    fits = "fits" if free > total else "DOES NOT FIT"
    return (f"Backup: none of these sources yet in {backup_dir}; run will first write and verify "
            f"one of {report.human_size(total)} ({report.human_size(free)} free there: {fits})."
            + prune)


def run(args) -> int:
    stores = common.open_stores(args)
    seen = facts = None
    if not common.has_target(args):
        plan = build_plan(stores, **common.plan_options(args))
    else:
        config = common.target_config(args)
        with session(args, config.host, config.user) as ctx, \
                common.read_only_login(config) as connecting:  # logs in while reading
            facts = Facts(ctx.state, write=False, full=args.full_check) if ctx.state else None
            plan = build_plan(stores, lambda: connecting.wait().layout,
                              **common.plan_options(args), facts=facts, check=connecting.check)
            target = connecting.wait()
            seen = survey(target, plan, ctx.state.recorded if ctx.state else None,
                          connections=args.connections, measure=not args.no_speed_probe,
                          caps=(args.max_messages_per_second, args.max_bytes_per_second))
    backup_note = backup_status(stores, args.backup_dir) if args.backup_dir else None
    document = report.plan_document(plan, seen, backup_note, name=args.name,
                                    filters=common.filters_of(args).text)
    print(report.render_plan_text(plan, document))
    if facts and facts.reused:
        print(f"\nRead {len(plan.folders) - len(facts.reused)} of {len(plan.folders)} folders; "
              f"the others had not changed since a run read them (--full-check reads all).")
    if backup_note:
        print("\n" + backup_note)
    if args.report:
        for path in write_plan_report(args.report, document):
            print(f"wrote {path}")
    if args.export_non_mail:
        export_non_mail(stores, args.export_non_mail)
    if document["summary"]["fits"] is False:  # a run would stop with the account full:
        return int(ExitCode.QUOTA)  # the plan says so in its code too (cron, jobs, RMM)
    if document["summary"]["unread_mail_like"]:  # mail under a source that would not move
        return int(ExitCode.SKIPPED)
    return 0


def export_non_mail(stores, directory: Path) -> None:
    from migrate.sources.olm import OlmStore
    from migrate.sources.olm_export import export_non_mail as export_olm
    from migrate.sources.pst import PstStore
    from migrate.sources.pst_export import export_non_mail as export
    found = False
    for store in stores:
        if isinstance(store, (PstStore, OlmStore)):
            found = True
            exporter = export if isinstance(store, PstStore) else export_olm
            for kind, n in sorted(exporter(store, directory).items()):
                print(f"exported {n} x {kind} from {store.path.name} into {directory}")
    if not found:
        print("--export-non-mail: no .pst or .olm source; nothing to export")
