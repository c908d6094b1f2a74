"""``mailmigrate verify``: is everything that should be on the server there?"""

from __future__ import annotations

from pathlib import Path

from migrate import report
from migrate.cli import common
from migrate.cli.session import session
from migrate.plan import build_plan
from migrate.report import counted
from migrate.verify import (
    NAMED,
    check_export_dir,
    check_report,
    expect_refusals,
    verify_plan,
    write_csv,
)

SHOWN = 20  # unexpected messages listed per mailbox in the terminal (more in verify.json)


def add_parser(sub):
    p = sub.add_parser("verify", help="check that every message of the sources is on the server")
    common.add_command_args(p, "verify")
    return p


def run(args) -> int:
    stores = common.open_stores(args)
    if args.export_refused:
        check_export_dir(stores, args.export_refused)
    config = common.target_config(args)
    with session(args, config.host, config.user) as ctx, \
            common.read_only_login(config) as connecting:  # logs in while reading
        state = ctx.state
        plan = build_plan(stores, lambda: connecting.wait().layout, **common.plan_options(args),
                          check=connecting.check)
        target = connecting.wait()
        expect_refusals(target, plan, state)
        checks = verify_plan(target, plan, describe_server=True,
                             recorded=state.recorded if state else None)
    result = check_report(checks)
    if args.export_refused:
        from migrate.verify import export_refused
        for path, why in export_refused(plan, args.export_refused):
            print(f"refused message written to {path} ({why})")
    result["who"] = report.who(args.name, args.sources, config.user, config.host)
    result["conclusion"] = conclusion(result)
    print(render(result, with_state=state is not None, report_dir=args.report))
    if args.report:
        from migrate.report_html import render_verify_html
        with report.writing_reports(args.report) as directory:
            report.write_json(directory / "verify.json", result)
            (directory / "verify.html").write_text(render_verify_html(result),
                                                   encoding="utf-8")
            write_csv(checks, directory / "verify.csv")  # every message named, a row each
    return result["exit_code"]




def _who(m: dict) -> str:
    return (f"Message-ID {m['message_id'] or '-'}  Date {m['date'] or '-'}  "
            f"From {m['from'] or '-'}  Subject {m['subject'] or '-'}")


def render(result: dict, with_state: bool, report_dir=None) -> str:
    """What the terminal shows: per mailbox the counts and the messages verify.json names
    (at most its detail limit of each kind; verify.csv names every one)."""
    lines = []
    for box in result["mailboxes"]:
        problem = box["missing"] or box["duplicated"] or not box["exists"]
        lines.append(f"{box['mailbox']}: {box['expected']} expected, {box['on_server']} on "
                     f"server, {counted(box, 'missing')} missing, {counted(box, 'refused')} "
                     f"refused, {counted(box, 'altered')} changed by the server, "
                     f"{counted(box, 'duplicated')} duplicated, {counted(box, 'unexpected')} "
                     f"not from these sources  [{'PROBLEM' if problem else 'ok'}]")
        if not box["exists"]:
            lines.append("  the folder does not exist on the server")
        if box.get("unopened"):
            lines.append(f"  not checked: {box['unopened']}; its messages are counted missing "
                         "until the server opens the folder (its administrator can say why)")
        if box["matched_by"]:
            how_words = {"uid": "UID recorded at upload"}
            lines.append("  found by " + ", ".join(
                f"{n} {how_words.get(how, 'headers (docs/fingerprint.md)')}"
                for how, n in sorted(box["matched_by"].items())))
        for m in box["missing"]:
            lines.append(f"  missing: {m['source']}  {_who(m)}")
        for m in box["refused"]:
            lines.append(f"  refused by the server: {m['source']}: {m['reason']}  {_who(m)}")
        for m in box["altered"]:
            lines.append(f"  stored, changed by the server on arrival: {m['source']}  {_who(m)}")
        for m in box.get("flags_missing", []):
            lines.append(f"  stored without {' '.join(m['flags'])} (the server did not keep "
                         f"it; set it in the mail program): {m['source']}  {_who(m)}")
        for m in box["duplicated"]:
            lines.append(f"  duplicate copy: UID {m['uid']}  {_who(m)}")
        unnamed = sum(counted(box, kind) - len(box[kind]) for kind in NAMED)
        if unnamed:
            lines.append(f"  ... and {unnamed} more messages like those above: " + (
                f"{Path(report_dir) / 'verify.csv'} names every one" if report_dir else
                "run the same command with --report DIR: DIR/verify.csv names every one"))
        if box.get("duplicated_more"):
            lines.append(f"  ... and {counted(box, 'duplicated') - len(box['duplicated'])} more "
                         f"duplicate copies: UIDs {box['duplicated_more']}")
        for m in box["unexpected"][:SHOWN]:
            lines.append(f"  not from these sources: UID {m['uid']}  {_who(m)}")
        if counted(box, 'unexpected') > SHOWN:
            lines.append(f"  ... and {counted(box, 'unexpected') - SHOWN} more (see --report)")
    lines.append("")
    lines.append(conclusion(result) + (f" {result['duplicated']} duplicate copies found."
                                       if result["duplicated"] else "")
                 + ("" if with_state else " (checked without a state database)"))
    return "\n".join(lines)


def conclusion(result: dict) -> str:
    """The one-sentence verdict (``run`` ends with the same one)."""
    folders = result["folders_missing"]
    if result["missing"] or folders:
        what = []
        if result["missing"]:
            what.append(f"{result['missing']} messages missing on the server")
        if folders:
            what.append(f"{len(folders)} folders missing ({', '.join(folders[:5])})")
        return (f"PROBLEM: {' and '.join(what)}; run the same 'mailmigrate run' command again "
                "to upload them (a folder the server refuses to create needs --map).")
    if result["refused"]:
        return (f"COMPLETE EXCEPT {result['refused']} messages the server refuses (listed "
                "above with its reason; running again will not change that): everything "
                "else is on the server.")
    return "OK: every message that should be on the server is there."
