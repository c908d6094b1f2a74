"""``mailmigrate verify``: is everything that should be on the server there?"""

from __future__ import annotations

from migrate.cli import common
from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.verify import describe, verify_plan


def add_parser(sub):
    p = sub.add_parser("verify", help="check that every message of the sources is on the server")
    common.add_source_args(p)
    common.add_target_args(p, required=True)
    common.add_state_arg(p)
    return p


def run(args) -> int:
    stores = common.open_stores(args)
    with common.IMAPTarget(common.target_config(args)) as target:
        plan = build_plan(stores, target.layout, **common.plan_options(args))
        checks = verify_plan(target, plan)
    missing = [p for c in checks for p in c.missing]
    details = describe(plan, missing) if missing else {}
    for c in checks:
        status = "ok" if c.ok else "PROBLEM"
        print(f"{c.mailbox}: {c.expected} expected, {c.on_server} on server, "
              f"{len(c.missing)} missing, {c.duplicated} duplicated  [{status}]")
        for p in c.missing:
            h = details.get(p.location, {})
            print(f"  missing: {p.location}  Message-ID {h.get('message-id', '-')}  "
                  f"Date {h.get('date', '-')}  From {h.get('from', '-')}  "
                  f"Subject {h.get('subject', '-')}")
    return int(ExitCode.VERIFY_FAILED if missing else ExitCode.SUCCESS)
