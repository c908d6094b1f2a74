"""``mailmigrate plan``: what would happen. Changes nothing anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

from migrate import backup, report
from migrate.cli import common
from migrate.plan import ServerFolderIndex, apply_server_view, build_plan
from migrate.state import State, default_state_path


def add_parser(sub):
    p = sub.add_parser("plan", help="dry run: show what would move where (changes nothing)")
    common.add_source_args(p)
    common.add_target_args(p, required=False)
    common.add_state_arg(p)
    p.add_argument("--backup-dir", type=Path, metavar="DIR",
                   help="also say whether a verified backup of these sources is there")
    p.add_argument("--report", metavar="DIR", help="also write plan.json into DIR")
    return p


def backup_status(stores, backup_dir: Path) -> str:
    """The backup step as the plan shows it: found and verified, or what run will write."""
    found = backup.find_verified_backup(stores, backup_dir)
    if found:
        return (f"Backup: {found.archive} ({report.human_size(found.size)}) holds exactly these "
                "sources and is verified; run will use it.")
    total = sum(f.stat().st_size for s in stores for f in s.files())
    probe = Path(backup_dir)
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    fits = "fits" if free > total else "DOES NOT FIT"
    return (f"Backup: none of these sources yet in {backup_dir}; run will first write and verify "
            f"one of {report.human_size(total)} ({report.human_size(free)} free there: {fits}).")


def open_state_readonly(path):
    """The state database if it exists, opened read-only: plan writes nothing."""
    return State(path, readonly=True) if Path(path).exists() else None


def run(args) -> int:
    stores = common.open_stores(args)
    if not common.has_target(args):
        plan = build_plan(stores, **common.plan_options(args))
    else:
        config = common.target_config(args)
        state = open_state_readonly(args.state or default_state_path(config.host, config.user))
        with common.IMAPTarget(config) as target:
            plan = build_plan(stores, target.layout, **common.plan_options(args))
            for mailbox, fplans in plan.by_target().items():
                done = state.done_hashes(mailbox) if state else set()
                existing = target.existing_name(mailbox)
                if existing:
                    target.examine(existing)
                index = ServerFolderIndex.from_fingerprints(
                    target.fingerprints(1) if existing else [])
                apply_server_view(fplans, index, done, target.append_limit,
                                  binary=target.has("BINARY"))
    print(report.render_plan_text(plan))
    if args.backup_dir:
        print("\n" + backup_status(stores, args.backup_dir))
    if args.report:
        report.write_json(Path(args.report) / "plan.json",
                          {"schema": "mailmigrate-plan/1", "folders": report.plan_rows(plan),
                           "totals": dict(plan.totals()),
                           "non_mail": report.non_mail_rows(plan)})
    return 0
