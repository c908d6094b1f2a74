"""A run's document written for people: run.json, run.html and the client's page beside
the state, run.csv naming every message that did not move, and the summary lines
the terminal shows at the end."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

from migrate import report, run_document
from migrate.plan import DONE, FAILED, PRESENT, REFUSE, SKIP, UPLOADED
from migrate.run_document import RunSummary

SHOWN = 20  # messages of each list in the summary's terminal lines (all in run.csv)


def write_run_report(state_path: Path, summary: RunSummary) -> None:
    """run.json and run.html beside the state database (the morning report), and
    client.html, the page the client keeps (prints on one or two A4 pages)."""
    from migrate.report_html import render_run_html
    from migrate.report_person import render_person_page
    run_document.write(state_path, summary)
    if "totals" in summary:
        state_path.with_suffix(".run.html").write_text(render_run_html(summary),
                                                        encoding="utf-8")
        state_path.with_suffix(".client.html").write_text(render_person_page(summary),
                                                           encoding="utf-8")


RUN_CSV_FIELDS = ("folder", "mailbox", "subject", "date", "from", "source", "what", "why")


def write_run_csv(path: Path, plan, checks, flags_dropped=()) -> None:
    """<state>.run.csv: every message that did not move, or is not as sent, a row each
    (run.json and run.html name the first DETAIL_LIMIT of each kind)."""
    from migrate.report_html import ACTION_WORDS
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(RUN_CSV_FIELDS)
        for row in run_document.not_uploaded(plan):
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


def _shown(summary: Mapping[str, Any], key: str, line: str, more: str) -> list[str]:
    """The first SHOWN rows of summary[key] as *line*s, then how many more (*more*)."""
    rows = summary.get(key, [])[:SHOWN]
    out = [line.format(**row) for row in rows]
    left = report.counted(summary, key) - len(rows)
    return out + ([more.format(left)] if left > 0 else [])


def render_summary(summary: Mapping[str, Any]) -> str:
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
