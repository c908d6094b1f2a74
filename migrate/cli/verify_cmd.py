"""``mailmigrate verify``: is everything that should be on the server there?"""

from __future__ import annotations

from pathlib import Path

from migrate import report
from migrate.cli import common
from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.verify import check_report, expect_refusals, verify_plan

SHOWN = 20  # unexpected messages listed per mailbox in the terminal (all in verify.json)


def add_parser(sub):
    p = sub.add_parser("verify", help="check that every message of the sources is on the server")
    common.add_source_args(p)
    common.add_target_args(p, required=True)
    common.add_state_arg(p)
    p.add_argument("--report", type=Path, metavar="DIR", help="also write verify.json into DIR")
    return p


def run(args) -> int:
    stores = common.open_stores(args)
    config = common.target_config(args)
    state = common.open_state_readonly(args, config)
    with common.IMAPTarget(config) as target:
        plan = build_plan(stores, target.layout, **common.plan_options(args))
        expect_refusals(target, plan, state.done_hashes if state else None)
        checks = verify_plan(target, plan, describe_server=True)
    if state:
        state.close()
    result = check_report(checks, plan)
    print(render(result, with_state=state is not None))
    if args.report:
        report.write_json(Path(args.report) / "verify.json", result)
    return int(ExitCode.SUCCESS if result["ok"] else ExitCode.VERIFY_FAILED)


def _who(m: dict) -> str:
    return (f"Message-ID {m['message_id'] or '-'}  Date {m['date'] or '-'}  "
            f"From {m['from'] or '-'}  Subject {m['subject'] or '-'}")


def render(result: dict, with_state: bool) -> str:
    lines = []
    for box in result["mailboxes"]:
        problem = box["missing"] or box["duplicated"]
        lines.append(f"{box['mailbox']}: {box['expected']} expected, {box['on_server']} on "
                     f"server, {len(box['missing'])} missing, {len(box['duplicated'])} "
                     f"duplicated, {len(box['unexpected'])} not from these sources  "
                     f"[{'PROBLEM' if problem else 'ok'}]")
        for m in box["missing"]:
            lines.append(f"  missing: {m['source']}  {_who(m)}")
        for m in box["duplicated"]:
            lines.append(f"  duplicate copy: UID {m['uid']}  {_who(m)}")
        for m in box["unexpected"][:SHOWN]:
            lines.append(f"  not from these sources: UID {m['uid']}  {_who(m)}")
        if len(box["unexpected"]) > SHOWN:
            lines.append(f"  ... and {len(box['unexpected']) - SHOWN} more (see --report)")
    lines.append("")
    lines.append(("OK: every message that should be on the server is there."
                  if result["ok"] else
                  f"PROBLEM: {result['missing']} messages missing on the server; run the "
                  "same 'mailmigrate run' command again to upload them.")
                 + (f" {result['duplicated']} duplicate copies found." if result["duplicated"]
                    else "")
                 + ("" if with_state else " (checked without a state database)"))
    return "\n".join(lines)
