"""Plans and run results for people (terminal text) and scripts (JSON, CSV).

The plan document (``plan.json``) follows the versioned schema in
``migrate/schemas/plan-1.json`` (explained in docs/plan-report.md). The HTML
page is rendered from the same document by :mod:`migrate.report_html`.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from migrate import __version__, providers
from migrate.errors import UsageError
from migrate.estimate import human_range
from migrate.plan import (
    DONE,
    DUPLICATE,
    FAILED,
    LATER,
    PRESENT,
    REFUSE,
    SKIP,
    UPLOAD,
    UPLOADED,
    Plan,
)
from migrate.sources.base import NOTES, SKIP_REASONS, printable
from migrate.textsafe import csv_cell, files, human_size, shown

PLAN_SCHEMA = "mailmigrate-plan/1"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "plan-1.json"
# One word per meaning, the same on every page (docs/plan-report.md "Words"): "to move"
# is still to send (the plan's "now", a stopped run's "left for the next run").
COLUMNS = [(UPLOAD, "to move"), (UPLOADED, "moved now"), (DONE, "moved earlier"),
           (PRESENT, "already in the account"), (DUPLICATE, "duplicates"), (SKIP, "skipped"),
           (REFUSE, "refused"), (FAILED, "refused by the server"), (LATER, "later pass")]
ACTIONS = [action for action, _ in COLUMNS]
# What a person reads for each action that leaves a message where it is.
NOT_MOVING = {DUPLICATE: "duplicate of a message already planned",
              PRESENT: "already in the account", DONE: "moved earlier",
              SKIP: "skipped", REFUSE: "the server would refuse it",
              FAILED: "the server refused it", LATER: "left for a later pass"}
CSV_FIELDS = ["folder", "source", "store_type", "target", "target_exists", "messages", "bytes",
              "upload_bytes", "oldest", "newest", *ACTIONS, "reasons", "mapping_note"]


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


def plan_rows(plan: Plan, existing: dict | None = None,
              unopened: dict | None = None) -> list[dict]:
    """One dict per source folder (the ``folders`` of plan.json and run.json)."""
    unopened = unopened or {}
    rows = []
    names = folder_names(plan.folders)
    for f in plan.folders:
        counts = f.counts()
        oldest, newest = f.date_range()
        rows.append({
            "folder": names[id(f)],
            "source": str(f.folder.path),
            "store_type": f.store.kind,
            "target": f.target,
            "target_exists": (existing.get(f.target) is not None) if existing else None,
            "mapping_note": f.mapping_note,
            **({"target_unopened": unopened[f.target]} if f.target in unopened else {}),
            "messages": len(f.messages),
            "bytes": f.bytes_for(),
            "upload_bytes": f.bytes_for(UPLOAD),
            "oldest": _iso(oldest),
            "newest": _iso(newest),
            **{action: counts.get(action, 0) for action in ACTIONS},
            "reasons": dict(f.reasons()),
            "noted": dict(f.messages.noted()),
        })
    return rows


def folder_names(folders) -> dict[int, str]:
    """id(folder plan) -> its name on the pages: a name two stores share ("(root)" of two
    mbox files or PSTs, two "Inbox"es) says which store it is from."""
    seen = collections.Counter((f.folder.display_name, id(f.store)) for f in folders)
    stores_of = collections.Counter(name for name, _ in seen)
    return {id(f): (f"{printable(Path(f.store.path).name)}: {f.folder.display_name}"
                    if stores_of[f.folder.display_name] > 1 else f.folder.display_name)
            for f in folders}


def not_moving(plan: Plan) -> list[dict]:
    """Why messages stay behind: one entry per (action, reason), largest first."""
    counter: collections.Counter[tuple[str, str]] = collections.Counter()
    for f in plan.folders:
        for (action, reason), n in f.messages.by_reason().items():
            if action in NOT_MOVING:
                reason = reason or NOT_MOVING[action]
                if action == DUPLICATE:
                    reason = NOT_MOVING[DUPLICATE]
                counter[(action, SKIP_REASONS.get(reason, reason))] += n
    return [{"action": a, "reason": r, "messages": n}
            for (a, r), n in counter.most_common()]


def counted(document: Mapping[str, Any], key: str) -> int:
    """How many *key* there are: ``KEY_count`` where a report lists only the first of
    them (verify.json, run.json), else the length of the list."""
    return document.get(f"{key}_count", len(document.get(key, ())))


def who(name: str | None, sources, user: str | None = None, host: str | None = None) -> dict:
    """Whose mail, from where, to which account: the first line of every report."""
    return {"name": name or user, "sources": [str(s) for s in sources],
            "account": f"{user} at {host}" if user and host else None}


def plan_document(plan: Plan, survey=None, backup_note: str | None = None,
                  name: str | None = None, filters: str | None = None) -> dict:
    """The whole plan as data: what plan.json holds and the HTML page shows."""
    rows = plan_rows(plan, survey.existing if survey else None,
                     survey.unopened if survey else None)
    totals = plan.totals()
    upload_bytes = sum(r["upload_bytes"] for r in rows)
    later_bytes = sum(f.bytes_for(LATER) for f in plan.folders)
    still = upload_bytes + later_bytes  # a pass's quota check counts what later passes move
    summary = {
        "folders": len(rows),
        "messages": sum(r["messages"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "upload_messages": totals.get(UPLOAD, 0),
        "upload_bytes": upload_bytes,
        "counts": {action: totals.get(action, 0) for action in ACTIONS},
        "not_moving": not_moving(plan),
        "not_mail": len(plan.non_mail()),
        "unread_files": len(plan.unread()),
        "unread_mail_like": sum(item.mail_like for item in plan.unread()),
        "fits": None,
        "estimate": None,
    }
    if totals.get(LATER):
        summary["left_for_later"] = {"messages": totals[LATER], "bytes": later_bytes}
    target = None
    if survey is not None:
        summary["fits"] = survey.fits(still)
        if totals.get(LATER):
            summary["this_pass_fits"] = survey.fits(upload_bytes)
        target = {
            "host": survey.host, "user": survey.user, "prefix": survey.prefix,
            "delimiter": survey.delimiter, "append_limit": survey.limits.append_limit,
            "binary": survey.limits.binary, "line_limit": survey.limits.line_limit,
            "quota": None if survey.quota_limit is None else {
                "used_bytes": survey.quota_used, "limit_bytes": survey.quota_limit,
                "headroom_after_bytes": survey.headroom(still)},
            "mailboxes_to_create": sorted(m for m, found in survey.existing.items()
                                          if found is None),
        }
        summary["copied_on_server"] = {"messages": survey.copies[0], "bytes": survey.copies[1]}
        if survey.provider is not None:
            target["provider"] = {"name": survey.provider.name, "title": survey.provider.title,
                                  "detected": survey.provider_detected,
                                  "changes": survey.provider.changes(),
                                  "login": survey.provider.login,
                                  "warnings": providers.purge_warnings(
                                      survey.provider, plan.layout,
                                      [(r["folder"], r["target"], r[UPLOAD])
                                       for r in rows])}
        if survey.estimate:
            e = survey.estimate
            summary["estimate"] = {"low_seconds": round(e.low_seconds, 1),
                                   "high_seconds": round(e.high_seconds, 1),
                                   "text": human_range(e),
                                   "round_trip_ms": round(e.round_trip * 1000, 1),
                                   "send_rate_bytes_per_second":
                                       round(e.send_rate) if e.send_rate else None,
                                   "assumptions": e.assumptions}
    return {
        "schema": PLAN_SCHEMA,
        "who": who(name, [s.path if s.kind != "pop3" else getattr(s, "url", s.path)
                          for s in plan.stores],
                   survey.user if survey else None, survey.host if survey else None),
        "filters": filters or None,
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mailmigrate_version": __version__,
        "target": target,
        "summary": summary,
        "backup": backup_note,
        "folders": rows,
        "per_year": plan.per_year(),
        "non_mail": [{"path": str(item.path), "kind": item.kind} for item in plan.non_mail()],
        "unread": unread_rows(plan),
    }


def unread_rows(plan: Plan) -> list[dict]:
    return [{"path": printable(str(item.path)), "size": item.size,
             "looks_like_mail": item.mail_like} for item in plan.unread()]


def unread_lines(rows: list[dict]) -> list[str]:
    """The files no reader took, each named with its size: the mail-like ones first."""
    if not rows:
        return []
    mail = [r for r in rows if r["looks_like_mail"]]
    lines = []
    if mail:
        lines.append(f"NOT READ, BUT LOOKS LIKE MAIL ({files(len(mail))}: a store or folder "
                     "of a shape this version does not read; nothing of them would move):")
        lines += [f"  {shown(r['path'])} ({human_size(r['size'])})" for r in mail]
        lines.append("  Give such a folder as a source of its own with --source-type, or "
                     "copy its mail out with its client; 'plan' and 'run' exit 1 while they "
                     "are here.")
    other = [r for r in rows if not r["looks_like_mail"]]
    if other:
        lines.append(f"Not read: unknown format ({files(len(other))}, not mail by their first "
                     "bytes):")
        lines += [f"  {shown(r['path'])} ({human_size(r['size'])})" for r in other]
    return lines


def render_plan_text(plan: Plan, document: dict | None = None) -> str:
    """The terminal table, then the notes, then (with a target) fit and time."""
    document = document or plan_document(plan)
    lines = _plan_table(document) + _plan_notes(document) + _plan_sentences(document)
    if document.get("filters"):
        lines.insert(0, f"This pass: {document['filters']} (the rest is left for a later "
                        "pass: run again without these to move it)\n")
    return "\n".join(lines)


def _plan_table(document: dict) -> list[str]:
    """One row a folder and the totals, in the columns that matter: the stores' (no
    target) or the server's."""
    rows = document["folders"]
    s = document["summary"]
    if document["target"] is None:  # what the stores hold
        columns = [("store_type", "type"), ("oldest", "oldest"), ("newest", "newest"),
                   (DUPLICATE, "duplicates"), (SKIP, "skipped"), (UPLOAD, "to move")]
    else:  # what the server will get
        columns = [("target", "-> target"), (UPLOAD, "to move"),
                   (PRESENT, "already in the account"), (DONE, "moved earlier"),
                   (DUPLICATE, "duplicates"), (SKIP, "skipped"), (REFUSE, "refused")]
    if document.get("filters"):
        columns.append((LATER, "later pass"))

    def cell(r: dict, key: str) -> str:
        if key in ("oldest", "newest"):
            return (r[key] or "-")[:10]
        if key == "target":
            if r["target_exists"] is not False:
                return shown(r["target"])
            return shown(r["target"]) + (" (new)" if r[UPLOAD] else " (new, empty)")
        return shown(r[key])

    header = ["folder", "msgs", "size"] + [label for _, label in columns]
    table = [header] + [[shown(r["folder"]), str(r["messages"]), human_size(r["bytes"])]
                        + [cell(r, key) for key, _ in columns] for r in rows]
    table.append(["TOTAL", str(s["messages"]), human_size(s["bytes"])]
                 + [str(s["counts"][key]) if key in s["counts"] else "" for key, _ in columns])
    left = {0} | {3 + i for i, (key, _) in enumerate(columns)
                  if key in ("target", "store_type")}
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in left else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return lines


def _plan_notes(document: dict) -> list[str]:
    """Per folder: its mapping, a mailbox the server would not open, why messages stay;
    then what is not mail and the files no reader took."""
    notes = []
    for r in document["folders"]:
        if r["mapping_note"]:
            notes.append(f"  {r['folder']}: {r['mapping_note']}")
        if r.get("target_unopened"):
            notes.append(f"  {r['folder']}: could not look into {r['target']} on the server "
                         f"({r['target_unopened']}); run will skip this folder, naming it, "
                         "until the server opens it")
        for reason, n in sorted(r["reasons"].items()):
            notes.append(f"  {r['folder']}: {n} x {SKIP_REASONS.get(reason, reason)}")
        for note, n in sorted(r.get("noted", {}).items()):
            if note in NOTES:
                notes.append(f"  {r['folder']}: {n} x {NOTES[note]}")
    lines = ["", "Notes:"] + notes if notes else []
    non_mail = collections.Counter(item["kind"] for item in document["non_mail"])
    if non_mail:
        lines += ["", "Not mail (listed, not uploaded): " +
                  ", ".join(f"{n} x {kind}" for kind, n in sorted(non_mail.items()))]
    if document.get("unread"):
        lines += [""] + unread_lines(document["unread"])
    return lines


def _plan_sentences(document: dict) -> list[str]:
    """The headline, copies sent once, and with a target: fit, provider, time."""
    s = document["summary"]
    lines = ["", headline(document)]
    copies = s.get("copied_on_server") or {}
    if copies.get("messages"):
        lines.append(f"{copies['messages']} of them ({human_size(copies['bytes'])}) are filed in "
                     "more than one folder: each is sent once and copied on the server.")
    target = document["target"]
    if target is not None:
        lines.append(fit_sentence(document))
        if target.get("provider"):
            lines.append(provider_sentence(target["provider"]))
            lines += [f"WARNING: {w}." for w in target["provider"].get("warnings", [])]
        if s["estimate"]:
            e = s["estimate"]
            rate = e["send_rate_bytes_per_second"]
            lines.append(f"Time: {e['text']} (measured: round trip {e['round_trip_ms']:.0f} ms"
                         + (f", upload {human_size(rate)}/s" if rate else ", upload speed "
                            "not measurable") + "; the model and its assumptions are in "
                         "plan.html and docs/plan-report.md).")
    return lines


def meanings(summary: Mapping[str, Any]) -> dict[str, int]:
    """The plan's messages by what happens to them, each counted once: moving now, moved
    by earlier runs, already on the server (from elsewhere), left for a later pass, and
    will not move (with a reason). A deferred message is never "will not move"."""
    c = summary["counts"]
    return {"now": c.get(UPLOAD, 0), "earlier": c.get(DONE, 0) + c.get(UPLOADED, 0),
            "there": c.get(PRESENT, 0), "later": c.get(LATER, 0),
            "never": sum(c.get(a, 0) for a in (SKIP, DUPLICATE, REFUSE, FAILED))}


RUN_MEANINGS = ("moved now", "moved earlier", "already in the account",
                "left for the next run", "left for a later pass", "will not move")


def run_meanings(run: Mapping[str, Any]) -> dict[str, int]:
    """A run's messages by meaning, each counted once (the words of every page)."""
    t = run.get("totals") or {}
    return dict(zip(RUN_MEANINGS, (
        t.get("uploaded", 0), t.get("done", 0), t.get("present", 0),
        run.get("left_for_next_run", t.get("upload", 0)), t.get("later", 0),
        sum(t.get(a, 0) for a in ("skip", "refuse", "failed", "duplicate")))))


def headline(document: Mapping[str, Any], pointer: bool = True) -> str:
    """One sentence; *pointer* says where the reasons are (only where they follow)."""
    s = document["summary"]
    m = meanings(s)
    parts = [f"{m['now']} of {s['messages']} messages ({human_size(s['upload_bytes'])}) "
             "will be uploaded now"]
    for key, words in (("earlier", "moved in earlier runs"),
                       ("there", "already in the account"), ("later", "left for a later pass")):
        if m[key]:
            verb = "" if key == "earlier" else ("is " if m[key] == 1 else "are ")
            parts.append(f"{m[key]} {verb}{words}")
    parts.append(f"{m['never']} will not move" + (" (reasons below the table)"
                                                  if pointer and m["never"] else ""))
    return "; ".join(parts) + "."


def provider_sentence(provider: dict) -> str:
    """Which provider profile applies, and what it changes (docs/providers.md)."""
    how = "detected" if provider["detected"] else "chosen with --provider"
    if provider["name"] == "generic":
        return f"Provider: none known ({how}): the server's own answers decide."
    return (f"Provider: {provider['title']} ({how}): " + "; ".join(provider["changes"] or
            ["nothing changed"]) + f". Log in with {provider['login']}.")


def fit_sentence(document: dict) -> str:
    quota = document["target"]["quota"]
    if quota is None:
        return "Quota: the server reports no storage limit."
    s = document["summary"]
    fits, left = s["fits"], quota["headroom_after_bytes"]
    used = (f"Quota: {human_size(quota['used_bytes'])} of {human_size(quota['limit_bytes'])} "
            "used; ")
    later = s.get("left_for_later")
    if later:  # a pre-stage: the quota must hold this pass and the passes still to come
        rest = f"this pass and the {human_size(later['bytes'])} left for a later pass"
        if fits:
            return used + f"{rest} fit, leaving {human_size(left)} free."
        now = "this pass fits, but " if s.get("this_pass_fits") else ""
        return used + (f"{now}{rest} do NOT fit: {human_size(-left)} short; the later pass "
                       "would stop with the account full (exit 5). Free space or raise the "
                       "quota before the cutover.")
    return used + (f"the upload fits, leaving {human_size(left)} free." if fits else
                   f"the upload does NOT fit: {human_size(-left)} short.")


@contextlib.contextmanager
def writing_reports(directory) -> Iterator[Path]:
    """Write report files into *directory*: one that cannot be written there (not a
    directory, no permission, a full disk) is a sentence and exit 2, not a traceback."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
    except OSError as e:
        why = ("it is not a directory" if isinstance(e, (FileExistsError, NotADirectoryError))
               else e.strerror or str(e))
        raise UsageError(f"the reports cannot be written into {directory}: {why}; choose "
                         "a directory you can write to (with free space) and run the same "
                         "command again") from None


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """*data* as JSON at *path*, whole or not at all: a full disk leaves the document
    there before as it was, never half of this one (pages and later runs read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        part.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(part, path)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def write_csv(path: Path, rows: list[dict]) -> None:
    """One row per folder; reasons as "reason=count; ..." (opens in any spreadsheet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            row = {**r, "reasons": "; ".join(f"{k}={v}" for k, v in r["reasons"].items())}
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
