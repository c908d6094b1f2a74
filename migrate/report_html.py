"""Self-contained HTML pages for the client: the plan before, the run after.

One file each, no scripts, no external fonts or images: CSS and charts (SVG)
are inline, so the page opens offline and prints as it looks.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Mapping

from migrate.plan import DONE, FAILED, LATER, PRESENT, UPLOAD, UPLOADED
from migrate.report import (
    COLUMNS,
    counted,
    files,
    fit_sentence,
    headline,
    human_size,
    meanings,
    write_csv,
    write_json,
    writing_reports,
)
from migrate.sources.base import SKIP_REASONS

ACTION_WORDS = {"skip": "skipped", "refuse": "refused (limits)", "failed": "refused by the server"}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:80em;padding:0 1em;color:#1d2733;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em}
.meta{color:#5b6670}.cards{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.card{flex:1 1 14em;border:1px solid #d5dbe1;border-radius:8px;padding:.8em 1em}
.card b{display:block;font-size:1.3em}.ok{border-left:6px solid #2e8b57}
.warn{border-left:6px solid #d9822b}.bad{border-left:6px solid #c0392b}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #e3e7eb;padding:.3em .5em;text-align:right;white-space:nowrap}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
tfoot td{font-weight:bold}.scroll{overflow-x:auto}svg text{font-size:11px;fill:#1d2733}
svg{max-width:100%;height:auto}.who{font-size:1.05em}code{overflow-wrap:anywhere}
td.wrap{white-space:normal;overflow-wrap:anywhere;text-align:left}
.glossary th{text-align:left;width:16em;white-space:normal}
"""


def html_page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def who_line(doc: Mapping[str, Any]) -> str:
    """Whose mail, from where, to which account: first on every page."""
    w = doc.get("who") or {}
    parts = []
    if w.get("name"):
        parts.append(f"For <b>{escape(w['name'])}</b>")
    if w.get("sources"):
        parts.append("from " + ", ".join(f"<code>{escape(s)}</code>" for s in w["sources"]))
    if w.get("account"):
        parts.append(f"to the account <b>{escape(w['account'])}</b>")
    return f'<p class="who">{" ".join(parts)}</p>' if parts else ""


GLOSSARY = [
    ("(root)", "the top level of a mail store: a single mbox file, or the Inbox of a maildir"),
    ("to move", "not on the new account yet: this run sends it (after a stop: the next run)"),
    ("moved now", "copied to the new account by this run"),
    ("moved earlier", "copied by an earlier run (nothing is sent twice)"),
    ("already in the account", "the new account had this message before (from elsewhere)"),
    ("left for a later pass", "kept back by this pass's filter (--before, --folder, ...): "
                              "it moves when a pass without the filter runs"),
    ("will not move", "stays behind, with the reason: skipped, refused or a duplicate"),
    ("duplicate", "a second copy of a message going to the same folder: uploaded once"),
    ("skipped", "the mail program marked it deleted or trashed, or it cannot be read; "
                "deleted mail is left behind on purpose"),
    ("refused", "the new account will not take it (for example: too large)"),
    ("changed by the server", "stored, but the server altered a few bytes on arrival"),
]


def html_glossary() -> str:
    return ('<h2>Words used here</h2><table class="glossary"><tbody>' + "".join(
        f'<tr><th>{escape(term)}</th><td class="wrap">{escape(meaning)}</td></tr>'
        for term, meaning in GLOSSARY) + "</tbody></table>")


def html_card(title: str, value: str, detail: str = "", tone: str = "ok") -> str:
    return (f'<div class="card {tone}">{escape(title)}<b>{escape(value)}</b>'
            f'{escape(detail)}</div>')


def html_table(header: list[str], rows: list[list[str]], footer: list[str] | None = None,
           wrap: bool = False, keep: tuple = ()) -> str:
    """*wrap*: long cells wrap (anywhere, for paths), except the columns in *keep*
    (names, times, numbers), which never break inside a word."""
    out = ['<div class="scroll"><table><thead><tr>'
           + "".join(f"<th>{escape(h)}</th>" for h in header)
           + "</tr></thead><tbody>"]
    wrapped, plain = '<td class="wrap">', "<td>"
    for row in rows:
        out.append("<tr>" + "".join(
            (wrapped if wrap and i not in keep else plain) + f"{escape(str(c))}</td>"
            for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody>")
    if footer:
        out.append("<tfoot><tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in footer)
                   + "</tr></tfoot>")
    return "".join(out) + "</table></div>"


def bar_chart_horizontal(items: list[tuple[str, float]], label=str, width: int = 640) -> str:
    """Labelled horizontal bars (size per folder)."""
    if not items:
        return "<p>(nothing to chart)</p>"
    row, left = 20, 180
    biggest = max(v for _, v in items) or 1
    height = row * len(items) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="chart">']
    for i, (name, value) in enumerate(items):
        y = 5 + i * row
        w = max(1, (width - left - 90) * value / biggest)
        short = name if len(name) <= 28 else name[:27] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(short)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
                     f'fill="#3b7dd8"/><text x="{left + w + 4:.1f}" y="{y + 13}">'
                     f'{escape(label(value))}</text>')
    return "".join(parts) + "</svg>"


def bar_chart_vertical(items: list[tuple[str, int]], width: int = 640, height: int = 180) -> str:
    """Columns with labels underneath (messages per year)."""
    if not items:
        return "<p>(nothing to chart)</p>"
    biggest = max(v for _, v in items) or 1
    step = min(60, (width - 20) / len(items))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" '
             f'role="img" aria-label="chart">']
    for i, (name, value) in enumerate(items):
        h = max(1, (height - 20) * value / biggest)
        x = 10 + i * step
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{step * 0.7:.1f}" '
                     f'height="{h:.1f}" fill="#3b7dd8"/>'
                     f'<text x="{x + step * 0.35:.1f}" y="{height - h - 4:.1f}" '
                     f'text-anchor="middle">{value}</text>'
                     f'<text x="{x + step * 0.35:.1f}" y="{height + 16}" '
                     f'text-anchor="middle">{escape(name)}</text>')
    return "".join(parts) + "</svg>"


def render_plan_html(document: dict) -> str:
    """The plan for the client: summary first, then folders, then charts."""
    s, target = document["summary"], document["target"]
    where = (f"To {target['user']} at {target['host']}" if target else
             "What the mail stores hold (no server chosen yet)")
    passing = (f"<p><b>This pass:</b> {escape(document['filters'])}; the rest is left for a "
               "later pass.</p>" if document.get("filters") else "")
    body = [f"<h1>Mail migration plan</h1>{who_line(document)}{passing}"
            f"<p class=\"meta\">{escape(where)}; made "
            f"{escape(document['generated'])} by mailmigrate "
            f"{escape(document['mailmigrate_version'])}. Nothing has been changed yet.</p>",
            "<h2>Summary</h2>", f"<p>{escape(headline(document))}</p>", '<div class="cards">']
    body.append(html_card("Will move", messages(s["upload_messages"]),
                      f" {human_size(s['upload_bytes'])} of {human_size(s['bytes'])} found"))
    if target:
        fits = s["fits"]
        body.append(html_card("Will it fit?", {True: "Yes", False: "No", None: "No limit"}[fits],
                          " " + fit_sentence(document).removeprefix("Quota: "),
                          "bad" if fits is False else "ok"))
        if s["estimate"]:
            body.append(html_card("How long?", s["estimate"]["text"],
                              " estimated from a measured round trip and upload speed", "ok"))
    m = meanings(s)
    if m["earlier"]:
        body.append(html_card("Moved earlier", messages(m["earlier"]), " by earlier runs", "ok"))
    if m["there"]:
        body.append(html_card("Already in the account", messages(m["there"]),
                          " the new account had these before", "ok"))
    if m["later"]:
        body.append(html_card("Left for a later pass", messages(m["later"]),
                          " moves when the filter of this pass is lifted", "ok"))
    body.append(html_card("Will not move", messages(m["never"]),
                      " reasons below" if m["never"] else "", "warn" if m["never"] else "ok"))
    body.append("</div>")
    for warning in (target or {}).get("provider", {}).get("warnings", []):
        body.append(f"<p><b>Warning:</b> {escape(warning)}.</p>")
    never = [i for i in s["not_moving"] if i["action"] not in (DONE, PRESENT, LATER)]
    if never:
        body += ["<h2>What will not move, and why</h2>",
                 html_table(["reason", "messages"], [[i["reason"], i["messages"]] for i in never])]
    if s["not_mail"]:
        body.append(f"<p>{files(s['not_mail'])} in the stores are not mail (address books, "
                    "indexes, ...): listed in plan.json, not uploaded.</p>")
    body += _unread_section(document.get("unread", []))
    if s["estimate"]:
        body.append("<p class=\"meta\">Time estimate: " +
                    escape("; ".join(s["estimate"]["assumptions"])) + ".</p>")
    if document.get("backup"):
        body.append(f"<p>{escape(document['backup'])}</p>")
    columns = [c for c in COLUMNS if c[0] not in (UPLOADED, FAILED)]
    body += ["<h2>Folders</h2>", _folder_table(document["folders"], s, columns)]
    body += ["<h2>Size per folder</h2>",
             bar_chart_horizontal([(r["folder"], r["bytes"]) for r in document["folders"]],
                                  label=human_size),
             "<h2>Messages per year</h2>",
             bar_chart_vertical(list(document["per_year"].items())), html_glossary()]
    return html_page("Mail migration plan", body)


def messages(n: int) -> str:
    return f"{n} message" + ("" if n == 1 else "s")


def _folder_table(rows: list[dict], s: dict, columns=COLUMNS) -> str:
    header = ["folder", "goes to", "messages", "size"] + [label for _, label in columns] + \
        ["oldest", "newest"]
    table = []
    for r in rows:
        new = r.get("target_exists") is False and r[UPLOAD]
        target = r["target"] + (" (new)" if new else "")
        table.append([r["folder"], target, r["messages"], human_size(r["bytes"])]
                     + [r[action] for action, _ in columns]
                     + [(r.get("oldest") or "-")[:10], (r.get("newest") or "-")[:10]])
    footer = ["Total", "", s["messages"], human_size(s["bytes"])] + \
        [s["counts"][action] for action, _ in columns] + ["", ""]
    return html_table(header, table, footer)


def _unread_section(rows: list[dict]) -> list[str]:
    """Files under the sources that no reader took: each named, mail-like ones first."""
    if not rows:
        return []
    mail = [r for r in rows if r["looks_like_mail"]]
    out = []
    if mail:
        out += ["<h2>Files that look like mail and were not read</h2>",
                f'<p class="bad">{files(len(mail))} under the sources look like mail that '
                "no reader took: nothing of them moves. Give their folder as a source of "
                "its own, or copy their mail out with the program that wrote it.</p>",
                html_table(["file", "size"], [[r["path"], human_size(r["size"])] for r in mail],
                       wrap=True)]
    other = [r for r in rows if not r["looks_like_mail"]]
    if other:
        out += ["<h2>Other files not read (unknown format)</h2>",
                html_table(["file", "size"], [[r["path"], human_size(r["size"])] for r in other],
                       wrap=True)]
    return out


def render_run_html(summary: Mapping[str, Any]) -> str:
    """The morning report: what moved, what did not and why, and the check afterwards."""
    t = summary["totals"]
    ok = not summary.get("missing") and not summary.get("error")
    moved = t.get("uploaded", 0) + t.get("done", 0)
    body = ["<h1>Mail migration result</h1>", who_line(summary),
            f"<p class=\"meta\">{escape(summary.get('finished', ''))}</p>",
            '<div class="cards">',
            html_card("Moved, all runs together", str(moved),
                  f" {t.get('uploaded', 0)} in this run "
                  f"({human_size(summary.get('uploaded_bytes', 0))}"
                  + (f"; {summary['copied']} of them copied on the server from another folder"
                     if summary.get("copied") else "") + "), the rest by earlier runs"),
            html_card("Already in the account", str(t.get("present", 0)),
                  " the new account had these before"),
            html_card("Verification", "passed" if ok else "PROBLEM",
                  f" {summary.get('missing', 0)} missing", "ok" if ok else "bad"),
            "</div>"]
    if summary.get("error"):
        body.append(f"<p><b>The run stopped:</b> {escape(summary['error'])}</p>")
    left = summary.get("not_uploaded", [])
    if left:
        body += ["<h2>Not uploaded, and why</h2>",
                 html_table(["folder", "message", "what", "why"],
                        [[i["folder"], message_words(i),
                          ACTION_WORDS.get(i["action"], i["action"]),
                          SKIP_REASONS.get(i["reason"], i["reason"] or "")]
                         for i in left], wrap=True)]
        more = counted(summary, "not_uploaded") - len(left)
        if more:
            body.append(f"<p>... and {more} more: <code>{escape(_name(summary.get('run_csv')))}"
                        "</code>, beside this page, names every one (it opens in any "
                        "spreadsheet).</p>")
    body += _unread_section(summary.get("unread", []))
    if summary.get("verification"):
        body += ["<h2>Check after upload (per mailbox)</h2>",
                 html_table(["mailbox", "expected", "on server", "missing", "duplicated"],
                        [[v["mailbox"], v["expected"], v["on_server"], v["missing"],
                          v["duplicated"]] for v in summary["verification"]])]
        how = summary.get("final_check")
        if how:
            body.append(f"<p>{how['by_uid']} messages were found by the number the server gave "
                        f"them, {how['by_headers']} by their headers. <code>mailmigrate "
                        "verify</code> compares the headers of every message, and also names "
                        "those the server changed on arrival.</p>")
    if summary.get("folders"):
        counts = {action: sum(r[action] for r in summary["folders"]) for action, _ in COLUMNS}
        s = {"messages": sum(r["messages"] for r in summary["folders"]),
             "bytes": sum(r["bytes"] for r in summary["folders"]), "counts": counts}
        body += ["<h2>Folders</h2>", _folder_table(summary["folders"], s)]
    body.append(html_glossary())
    return html_page("Mail migration result", body)


def message_words(row: dict, language: str = "en") -> str:
    """A message as its owner knows it: subject, date, sender; where it is in the
    source only when the source no longer says (or it has none of them)."""
    from migrate.words import say
    parts = [row.get("subject") and f"“{row['subject']}”",
             row.get("date") and short_date(row["date"]),
             row.get("from") and say(language, "from_sender", sender=row["from"])]
    said = [str(s) for s in parts if s]
    return ", ".join(said) if said else row["source"]


def short_date(value: str) -> str:
    """'Tue, 3 Mar 2015 10:04:05 +0100' as 2015-03-03 10:04; as written if unparseable."""
    import email.utils
    try:
        return email.utils.parsedate_to_datetime(value).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, IndexError, OverflowError):
        return value


def _name(path: str | None) -> str:
    return path.replace("\\", "/").rpartition("/")[2] if path else "the run's .run.csv file"


def render_verify_html(result: dict) -> str:
    """The check, for the client: is everything there, and what is not, by name."""
    missing = result["missing"] or result["folders_missing"]
    tone = "bad" if missing else ("warn" if result["refused"] else "ok")
    body = ["<h1>Mail migration check</h1>", who_line(result),
            f"<p>{escape(result.get('conclusion', ''))}</p>", '<div class="cards">',
            html_card("Missing", str(result["missing"]), " not found on the server", tone
                  if missing else "ok"),
            html_card("Refused by the server", str(result["refused"]),
                  " running again will not change this", "warn" if result["refused"] else "ok"),
            html_card("Changed by the server", str(result["altered"]), " stored, slightly altered"),
            html_card("Duplicate copies", str(result["duplicated"]), "",
                  "warn" if result["duplicated"] else "ok"), "</div>"]
    rows = [[b["mailbox"], "yes" if b["exists"] else "NO", b["expected"], b["on_server"],
             counted(b, "missing"), counted(b, "refused"), counted(b, "duplicated"),
             b.get("unexpected_count", 0)] for b in result["mailboxes"]]
    body += ["<h2>Per folder on the server</h2>",
             html_table(["folder", "exists", "expected", "on server", "missing", "refused",
                     "duplicated", "not from these sources"], rows)]
    others = result.get("unexpected", 0)
    if others:  # "expected 516, on server 557" said nothing of the 41
        body.append(f"<p>{others} messages on the server are not from these sources: mail "
                    "the account had before, or that arrived since. They are left as they "
                    "are; the server copies listed in verify.json say which.</p>")
    named = [(b["mailbox"], kind, m) for b in result["mailboxes"]
             for kind in ("missing", "refused", "altered") for m in b[kind]]
    if named:
        body += ["<h2>Each message that needs a look</h2>",
                 html_table(["folder", "what", "subject", "date", "from", "why"],
                        [[box, kind, m.get("subject") or "", m.get("date") or "",
                          m.get("from") or "", m.get("reason") or ""]
                         for box, kind, m in named], wrap=True)]
    more = sum(counted(b, kind) - len(b[kind]) for b in result["mailboxes"]
               for kind in ("missing", "refused", "altered"))
    if more:
        body.append(f"<p>... and {more} more messages: <code>verify.csv</code>, beside this "
                    "page, names every one (it opens in any spreadsheet).</p>")
    body.append(html_glossary())
    return html_page("Mail migration check", body)


def write_plan_report(directory: Path, document: dict) -> list[Path]:
    """plan.json, plan.csv and plan.html into *directory*."""
    with writing_reports(directory) as directory:
        paths = [directory / "plan.json", directory / "plan.csv", directory / "plan.html"]
        write_json(paths[0], document)
        write_csv(paths[1], document["folders"])
        paths[2].write_text(render_plan_html(document), encoding="utf-8")
    return paths
