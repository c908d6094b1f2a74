"""The page a client keeps: ``<state>.client.html`` beside run.html.

Who, what moved, what did not and why (each message by subject, date and sender),
the check afterwards and where the backup is, in the client's language
(``--language``). Made for paper: a print stylesheet for A4 that Chromium's
print-to-PDF (or any browser's Print) lays out on one or two pages, however many
folders or left-behind messages there are (the largest folders and the first
messages are named, the rest counted).
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping

from migrate.plan import DUPLICATE
from migrate.report import NOT_MOVING, human_size
from migrate.report_html import message_words
from migrate.sources.base import SKIP_REASONS
from migrate.words import reason, say

FOLDERS_NAMED = 18  # the largest folders in the table; the rest in one line
MESSAGES_NAMED = 12  # left-behind messages named; the rest counted per reason

STYLE = """
@page{size:A4;margin:14mm 15mm}
body{font-family:system-ui,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:1.5em auto;
max-width:46em;padding:0 1em;line-height:1.35;font-size:11pt}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .4em}
p{margin:.3em 0}.meta{color:#5b6670}.big{font-size:1.2em;font-weight:bold}
table{border-collapse:collapse;width:100%;font-size:.95em}
th,td{border-bottom:1px solid #e3e7eb;padding:.2em .4em;text-align:left;vertical-align:top;
overflow-wrap:anywhere}td.n,th.n{text-align:right;white-space:nowrap}
code{overflow-wrap:anywhere;font-size:.9em}
@media print{body{margin:0;max-width:none;padding:0;font-size:10pt}}
"""


def render_person_page(summary: Mapping[str, Any]) -> str:
    lang = summary.get("language") or "en"
    who = summary.get("who") or {}
    t = summary.get("totals") or {}
    moved = t.get("uploaded", 0) + t.get("done", 0)
    body = [f"<h1>{escape(say(lang, 'page_title'))}</h1>"]
    if who.get("name"):
        body.append(f"<p class=\"big\">{escape(say(lang, 'for', name=who['name']))}</p>")
    if who.get("account"):
        account = who["account"].replace(" at ", f" {say(lang, 'at')} ", 1)
        body.append(f"<p>{escape(say(lang, 'to_account', account=account))}</p>")
    if who.get("sources"):
        body.append("<p>" + escape(say(lang, "from_sources", sources="")) + ", ".join(
            f"<code>{escape(s)}</code>" for s in who["sources"]) + "</p>")
    if summary.get("finished"):
        when = summary["finished"][:16].replace("T", " ")
        body.append(f"<p class=\"meta\">{escape(say(lang, 'when', when=when))}</p>")
    body.append(f"<h2>{escape(say(lang, 'what_moved'))}</h2>")
    moved_text = say(lang, "moved", moved=moved, there=t.get("present", 0))
    body.append(f"<p class=\"big\">{escape(moved_text)}</p>")
    body += _folders(summary.get("folders") or [], lang)
    left = (summary.get("left_for_next_run") or 0) + t.get("later", 0)
    if left:
        body.append(f"<p><b>{escape(say(lang, 'still_to_move', left=left))}</b></p>")
    body.append(f"<h2>{escape(say(lang, 'what_not'))}</h2>")
    body += _not_moved(summary, lang)
    missing = summary.get("missing") or 0
    body.append("<p>" + escape(say(lang, "missing_some", missing=missing) if missing else
                               say(lang, "missing_none")) + "</p>")
    archive = (summary.get("backup") or {}).get("archive")
    body.append("<p>" + (escape(say(lang, "backup", where="")) + f"<code>{escape(archive)}</code>"
                         if archive else escape(say(lang, "no_backup"))) + "</p>")
    title = say(lang, "page_title") + (f": {who['name']}" if who.get("name") else "")
    return (f"<!DOCTYPE html>\n<html lang=\"{escape(lang)}\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _folders(rows: list[dict], lang: str) -> list[str]:
    def done(r):
        return r.get("uploaded", 0) + r.get("done", 0) + r.get("present", 0)
    largest = sorted(rows, key=lambda r: -r.get("messages", 0))
    named, rest = largest[:FOLDERS_NAMED], largest[FOLDERS_NAMED:]
    out = [f"<table><thead><tr><th>{escape(say(lang, 'folder'))}</th>"
           f"<th class=\"n\">{escape(say(lang, 'messages'))}</th>"
           f"<th class=\"n\">{escape(say(lang, 'moved_col'))}</th></tr></thead><tbody>"]
    for r in sorted(named, key=lambda r: r["target"].casefold()):
        out.append(f"<tr><td>{escape(r['target'])}</td><td class=\"n\">{r['messages']}</td>"
                   f"<td class=\"n\">{done(r)}</td></tr>")
    if rest:
        out.append(f"<tr><td>+ {len(rest)} {escape(say(lang, 'folder'))}</td>"
                   f"<td class=\"n\">{sum(r['messages'] for r in rest)}</td>"
                   f"<td class=\"n\">{sum(done(r) for r in rest)}</td></tr>")
    out.append("</tbody></table>")
    size = sum(r.get("bytes", 0) for r in rows)
    if size:
        out.append(f"<p class=\"meta\">{human_size(size)}</p>")
    return out


def _not_moved(summary: Mapping[str, Any], lang: str) -> list[str]:
    """Each reason once with its count, and under it the first of its messages by
    subject, date and sender (MESSAGES_NAMED in all); the rest counted. Folders are
    named as the client will find them in the new account (not "(root)")."""
    items = summary.get("not_uploaded") or []
    count = summary.get("not_uploaded_count", len(items))
    if not count:
        return [f"<p>{escape(say(lang, 'nothing_not'))}</p>"]
    by_reason: dict[str, int] = {}
    for n in summary.get("not_moving") or []:
        if n["action"] in ("skip", "refuse", "failed", "duplicate"):
            by_reason[n["reason"]] = by_reason.get(n["reason"], 0) + n["messages"]
    codes = {english: code for code, english in SKIP_REASONS.items()}
    codes[NOT_MOVING[DUPLICATE]] = DUPLICATE
    examples: dict[str, list[dict]] = {}
    for i in items:
        examples.setdefault(SKIP_REASONS.get(i["reason"], i["reason"] or i["action"]),
                            []).append(i)
    each = max(3, MESSAGES_NAMED // max(1, len(by_reason)))
    out, named = ["<ul>"], 0
    for why, n in by_reason.items():
        out.append(f"<li>{n} &times; {escape(reason(lang, codes.get(why), why))}")
        shown = examples.get(why, [])[:each]
        if shown:
            out.append("<ul>" + "".join(
                f"<li>{escape(i.get('mailbox') or i['folder'])}: "
                f"{escape(message_words(i, lang))}</li>"
                for i in shown) + "</ul>")
            named += len(shown)
        out.append("</li>")
    out.append("</ul>")
    if count > named:
        out.append(f"<p class=\"meta\">{escape(say(lang, 'and_more', more=count - named))}"
                   "</p>")
    return out
