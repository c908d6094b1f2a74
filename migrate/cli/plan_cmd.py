"""``mailmigrate plan``: what would happen. Changes nothing anywhere."""

from __future__ import annotations

from migrate import report
from migrate.cli import common
from migrate.plan import ServerFolderIndex, apply_server_view, build_plan


def add_parser(sub):
    p = sub.add_parser("plan", help="dry run: show what would move where (changes nothing)")
    common.add_source_args(p)
    common.add_target_args(p, required=False)
    p.add_argument("--report", metavar="DIR", help="also write plan.json into DIR")
    return p


def run(args) -> int:
    stores = common.open_stores(args)
    if not common.has_target(args):
        plan = build_plan(stores, across_folders=args.dedup_across_folders)
    else:
        with common.IMAPTarget(common.target_config(args)) as target:
            plan = build_plan(stores, target.layout, across_folders=args.dedup_across_folders)
            for mailbox, fplans in plan.by_target().items():
                index = ServerFolderIndex()
                existing = target.existing_name(mailbox)
                if existing:
                    target.examine(existing)
                    for _, key, size, _ in target.fingerprints(1):
                        index.add(key, size)
                apply_server_view(fplans, index, set(), target.append_limit,
                                  binary=target.has("BINARY"))
    print(report.render_plan_text(plan))
    if args.report:
        from pathlib import Path
        report.write_json(Path(args.report) / "plan.json",
                          {"schema": "mailmigrate-plan/1", "folders": report.plan_rows(plan),
                           "totals": dict(plan.totals()),
                           "non_mail": report.non_mail_rows(plan)})
    return 0
