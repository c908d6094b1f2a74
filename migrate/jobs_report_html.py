"""The jobs pages: summary-<command>.html for the technician, report.html for the
client (every person, their latest pages with dates, the nights, the final totals),
and writing them with the summaries and their history (the numbers: jobs_report)."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Any

from migrate import report
from migrate.jobs_report import (
    HISTORY,
    client_entry,
    details,
    duration,
    final_totals,
    nights_of,
    read_json,
    whole_file,
)
from migrate.report import RUN_MEANINGS
from migrate.report_html import html_card, html_glossary, html_page, html_table, who_line


def _when(iso: str | None) -> str:
    """2026-12-07 23:05 from an ISO time: what a person reads."""
    return (iso or "")[:16].replace("T", " ")


def render_jobs_html(summary: dict) -> str:
    """One line per job of the file: the page a technician opens in the morning."""
    ran = [j for j in summary["jobs"] if j.get("this_time", True)]
    good = sum(1 for j in ran if j["exit_code"] in (0, 1))
    body = [f"<h1>mailmigrate jobs {escape(summary['command'])}</h1>",
            f"<p class=\"meta\">{escape(summary['jobs_file'])}; started "
            f"{escape(_when(summary.get('started')))}, took "
            f"{escape(duration(summary.get('seconds')))}</p>", '<div class="cards">',
            html_card("Completed", f"{good} of {len(ran)} jobs",
                  f" ({len(summary['jobs']) - len(ran)} others not run this time)"
                  if len(ran) < len(summary["jobs"]) else "",
                  "ok" if good == len(ran) else "bad"),
            html_card("Exit code", str(summary["exit_code"]), " the highest of the jobs run",
                  "ok" if summary["exit_code"] in (0, 1) else "bad"), "</div>"]
    rows = []
    for j in summary["jobs"]:
        this_time = j.get("this_time", True)
        rows.append([j["job"], j["state"] if this_time or j["ended"] else "not run yet",
                     _when(j["started"]), duration(j["seconds"]),
                     details(j["counts"]) if this_time else
                     f"not run this time (this is its last {summary['command']})"
                     if j["ended"] else "", j["error"] or "", j["log"] or ""])
    body.append(html_table(["job", "state", "started", "took", "numbers", "what happened",
                        "log file"], rows, wrap=True, keep=(0, 2, 3)))
    body.append('<p class="meta">Per client: <a href="report.html">report.html</a> '
                "(plan, result and check of every job, and every night).</p>")
    return html_page(f"mailmigrate jobs {summary['command']}", body)


TOTAL_WORDS = (("moved", "Moved", " messages, all runs together"),
               ("still to move", "Still to move", " left for the next run or a later pass"),
               ("will not move", "Will not move", " by choice or limits: see each person"),
               ("missing", "Missing on the server", " at the latest check"))


def render_client_report(jobs: list[dict], totals: dict) -> str:
    """One page per jobs file: final totals, then each person's pages and nights."""
    body = ["<h1>Mail migration report</h1>",
            f'<p class="meta">{len(jobs)} mailboxes. Each line links to its detailed '
            "pages.</p>", '<div class="cards">']
    for key, title, detail in TOTAL_WORDS:
        tone = "bad" if key == "missing" and totals[key] else \
            "warn" if key == "still to move" and totals[key] else "ok"
        body.append(html_card(title, str(totals[key]), detail, tone))
    body.append("</div>")
    if totals["not run yet"]:
        body.append(f"<p>{totals['not run yet']} of {totals['people']} mailboxes have not "
                    "been moved yet.</p>")
    rows: list[list[Any]] = []
    for j in jobs:
        m = j.get("totals") or {}
        checked = j.get("checked") or {}
        rows.append([j["who"].get("name") or j["name"],
                     m.get("moved now", 0) + m.get("moved earlier", 0) if m else "not yet",
                     m.get("left for the next run", 0) + m.get("left for a later pass", 0)
                     if m else "", m.get("will not move", "") if m else "",
                     checked.get("missing", "") if checked else "not checked yet",
                     j.get("run_when", "")])
    body += ["<h2>Everyone</h2>", html_table(["person", "moved", "still to move",
                                          "will not move", "missing", "last run"], rows)]
    for j in jobs:
        body.append(f"<h2>{escape(j['name'])}</h2>{who_line(j)}")
        lines = []
        for label, key in (("plan", "plan"), ("result", "run"), ("check", "verify")):
            page = j.get(f"{key}_html")
            link = f'<a href="{escape(page)}">{escape(label)}</a>' if page else escape(label)
            lines.append(f"<tr><td>{link}</td><td>{escape(j.get(f'{key}_when', ''))}</td>"
                         f"<td class=\"wrap\">{escape(j.get(key) or 'not yet')}</td></tr>")
        if j.get("client_html"):
            lines.append(f'<tr><td><a href="{escape(j["client_html"])}">printable page</a>'
                         '</td><td></td><td class="wrap">for the client to keep (prints on '
                         "one or two A4 pages)</td></tr>")
        body.append('<div class="scroll"><table><tbody>' + "".join(lines) + "</tbody></table>"
                    "</div>")
        if j.get("totals"):
            body.append('<p class="meta">The latest run, each message counted once:</p>')
            body.append(html_table(list(RUN_MEANINGS), [[j["totals"][k] for k in RUN_MEANINGS]]))
        if j.get("nights"):
            body.append("<h3>Every run</h3>" + html_table(
                ["started", "took", "moved", "result"],
                [[_when(n["started"]), duration(n["seconds"]),
                  n["moved"] if n["moved"] is not None else "not known", n["state"]]
                 for n in j["nights"]]))
            if any(n["moved"] is None for n in j["nights"]):
                body.append('<p class="meta">"not known": the job was stopped from outside '
                            "before it could say; what it sent counts as moved earlier in the "
                            "next run.</p>")
    body.append(html_glossary())
    return html_page("Mail migration report", body)


# -- writing them -------------------------------------------------------------------


def write_summaries(out_dir: Path, this_time: dict, every_job) -> dict:
    """history/<stamp>-<command>.json, summary-<command>.json/.html (the whole file) and
    report.html; the whole-file summary."""
    command = this_time["command"]
    history = out_dir / HISTORY
    history.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromisoformat(this_time["started"]).strftime("%Y%m%d-%H%M%S")
    kept, n = history / f"{stamp}-{command}.json", 1
    while kept.exists():  # two in one second: both kept
        n += 1
        kept = history / f"{stamp}-{command}-{n}.json"
    report.write_json(kept, this_time)
    name = f"summary-{command}"
    summary = whole_file(this_time, read_json(out_dir / f"{name}.json"),
                         [j.name for j in every_job])
    report.write_json(out_dir / f"{name}.json", summary)
    (out_dir / f"{name}.html").write_text(render_jobs_html(summary), encoding="utf-8")
    write_client_report(every_job, out_dir)
    return summary


def write_client_report(every_job, out_dir: Path) -> Path:
    """work/report.html, from what is on disk: every job of the file."""
    nights = nights_of(out_dir)
    entries = [client_entry(job, out_dir, nights.get(job.name, [])) for job in every_job]
    path = out_dir / "report.html"
    path.write_text(render_client_report(entries, final_totals(entries)), encoding="utf-8")
    return path
