"""What the ``jobs`` commands leave for the technician and the client.

- ``summary-<command>.json`` and ``.html``: the whole jobs file, every job with its
  latest result of that command, its start, end and duration; the jobs run this
  time are marked, the others keep what their last such command said (a ``--only``
  never hides the rest). The exit code is this time's (cron reads it).
- ``history/<stamp>-<command>.json``: each time's own summary, kept (never
  overwritten): the nights side by side.
- ``report.html``: every person of the file with their latest plan, run and check
  and the dates, the nights side by side, and the final totals.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Mapping

from migrate import jobs as jobs_mod
from migrate import report, run_document
from migrate.report import human_size, run_meanings

SCHEMA = "mailmigrate-jobs-summary/1"
HISTORY = "history"


def seconds_between(started: str | None, ended: str | None) -> int | None:
    if not started or not ended:
        return None
    try:
        return int((dt.datetime.fromisoformat(ended) -
                    dt.datetime.fromisoformat(started)).total_seconds())
    except (TypeError, ValueError):
        return None


def duration(seconds: float | None) -> str:
    """3m05s, 2h07m: a time a person reads (not "7625 s")."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def shown_count(key: str, value) -> str:
    """A count as a person reads it: sizes in MB, yes/no, never 1.5e+06 or False."""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if key == "bytes" and isinstance(value, (int, float)):
        return human_size(value)
    return str(value)


def details(counts: dict) -> str:
    return ", ".join(f"{k} {shown_count(k, v)}" for k, v in counts.items()
                     if v is not None and v != 0 or k in ("moved now", "to move now"))


# -- the summary of one command, and of the whole file -----------------------------


def job_entry(r: jobs_mod.JobResult) -> dict:
    started, ended = last_run_times(r.data) if r.command == "status" else (r.started, r.ended)
    return {"job": r.name, "state": r.state, "exit_code": r.exit_code, "counts": r.counts(),
            "error": r.error, "log": str(r.log_file), "output": str(r.output_file),
            "started": started, "ended": ended, "seconds": seconds_between(started, ended)}


def last_run_times(status: dict) -> tuple[str | None, str | None]:
    """For ``jobs status``: when the job's last run started and ended (the state keeps
    UTC; shown in local time), not when the status was read."""
    runs = [r for r in (status or {}).get("runs", []) if isinstance(r, list) and len(r) == 5
            and r[1] == "run"]
    if not runs:
        return None, None

    def local(utc: str | None) -> str | None:
        if utc is None:
            return None
        try:
            return dt.datetime.fromisoformat(utc).replace(tzinfo=dt.timezone.utc) \
                .astimezone().isoformat(timespec="seconds")
        except (TypeError, ValueError):
            return None
    return local(runs[0][2]), local(runs[0][3])


def summary_of(command: str, jobs_file: Path, results, started: str, ended: str) -> dict:
    """This time's summary: only the jobs that ran."""
    return {"schema": SCHEMA, "command": command, "jobs_file": str(jobs_file),
            "exit_code": jobs_mod.worst_exit_code(results), "started": started,
            "ended": ended, "seconds": seconds_between(started, ended),
            "jobs": [job_entry(r) for r in results]}


def whole_file(this_time: dict, previous: dict | None, names: list[str]) -> dict:
    """*this_time* with every other job of the file as its last summary had it."""
    ran = {j["job"]: dict(j, this_time=True) for j in this_time["jobs"]}
    before = {j["job"]: j for j in _listed((previous or {}).get("jobs")
                                           if isinstance(previous, dict) else None)
              if isinstance(j, dict) and isinstance(j.get("job"), str)}
    jobs = []
    for name in names:
        if name in ran:
            jobs.append(ran[name])
            continue
        earlier = before.get(name, {})  # from a file on disk: each value's kind checked
        kept = {key: earlier.get(key) if isinstance(earlier.get(key), KINDS[key]) else
                default for key, default in NOT_RUN.items()}
        jobs.append({**kept, "job": name, "this_time": False})
    return dict(this_time, jobs=jobs, ran=len(ran))


NOT_RUN: dict[str, Any] = {"state": "not run yet", "exit_code": None, "counts": {}, "error": None,
           "log": None, "output": None, "started": None, "ended": None, "seconds": None}
KINDS = {"state": str, "exit_code": int, "counts": dict, "error": str, "log": str,
         "output": str, "started": str, "ended": str, "seconds": int}


def render_text(summary: dict) -> str:
    width = max([3] + [len(j["job"]) for j in summary["jobs"]])
    lines = [f"{'job'.ljust(width)}  {'state':<24}  {'took':>6}  details"]
    for j in summary["jobs"]:
        text = details(j["counts"])
        if j["error"]:
            text = (text + "; " if text else "") + j["error"]
        state = j["state"]
        if not j.get("this_time", True):
            text = (f"not run this time; last {summary['command']} ended {j['ended']}"
                    if j["ended"] else "not run yet")
        lines.append(f"{j['job'].ljust(width)}  {state:<24}  {duration(j['seconds']):>6}  "
                     f"{text}")
    ran = [j for j in summary["jobs"] if j.get("this_time", True)]
    ok = sum(1 for j in ran if j["exit_code"] in (0, 1))
    done = "whose last run completed" if summary["command"] == "status" else "completed"
    lines.append(f"\n{ok} of {len(ran)} jobs {done}"
                 + (f" ({len(summary['jobs']) - len(ran)} others not run this time)"
                    if len(ran) < len(summary["jobs"]) else "")
                 + f"; took {duration(summary.get('seconds'))}; exit code "
                 f"{summary['exit_code']} (the highest of the jobs run, docs/exit-codes.md)")
    return "\n".join(lines)


# -- report.html: every person, latest pages, nights, final totals -----------------


def client_entry(job, out_dir: Path, nights: list[dict]) -> dict:
    s = job.settings
    entry: dict = {"name": job.name, "nights": nights,
                   "who": report.who(s.get("name", job.name), job.sources, s.get("user"),
                                     s.get("host"))}
    printable = job.state.with_suffix(".client.html")
    if printable.exists():
        entry["client_html"] = os.path.relpath(printable, out_dir)
    pages = {"plan": job.work_dir / "plan" / "plan.json",
             "run": run_document.path_of(job.state),
             "verify": job.work_dir / "verify" / "verify.json"}
    for key, json_path in pages.items():
        try:  # a run's document is read where it is written (run_document)
            data = run_document.read(json_path) if key == "run" else read_json(json_path)
        except run_document.NotARunDocument:
            data = []  # named below: cannot be read
        html = json_path.with_name(json_path.name.removesuffix(".json") + ".html")
        if html.exists():
            entry[f"{key}_html"] = os.path.relpath(html, out_dir)
        if data is None:
            continue
        if not isinstance(data, dict):  # valid JSON, but not what the command writes
            entry[key] = f"{json_path.name} cannot be read; run the command again"
            continue
        entry[f"{key}_when"] = when_of(key, data, json_path)
        try:
            entry[key] = state_of(key, data)
            if key == "run":
                entry["totals"] = run_meanings(data)
            if key == "verify":
                entry["checked"] = {k: data.get(k) for k in ("missing", "duplicated",
                                                              "unexpected", "ok")}
        except (KeyError, TypeError, AttributeError):  # a damaged or foreign file
            entry[key] = f"{json_path.name} cannot be read; run the command again"
    return entry


def when_of(kind: str, data: Mapping[str, Any], path: Path) -> str:
    """When that page's command ended, local time to the minute."""
    value = data.get("finished") if kind == "run" else data.get("generated")
    try:
        when = dt.datetime.fromisoformat(value).astimezone() if value else \
            dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except (OSError, ValueError, TypeError):
        return ""
    return when.strftime("%Y-%m-%d %H:%M")


def state_of(kind: str, data: Mapping[str, Any]) -> str:
    if kind == "plan":
        return report.headline(data, pointer=False)
    if kind == "run":
        code = data.get("exit_code")
        known = jobs_mod.STATES.get(code) if isinstance(code, int) else None
        return ((known or f"exit {code}")
                + (f": {data['error']}" if data.get("error") else ""))
    return data.get("conclusion") or ("complete" if data.get("ok") else "problems found")


def final_totals(entries: list[dict]) -> dict[str, int]:
    """Over every person's latest run: moved (all runs together), still to move, and
    what will not move; and over their latest check: missing and duplicated."""
    total = {"people": len(entries), "moved": 0, "already in the account": 0,
             "still to move": 0, "will not move": 0, "missing": 0, "duplicated": 0,
             "not run yet": 0}
    for e in entries:
        m = e.get("totals")
        if not m:
            total["not run yet"] += 1
            continue
        total["moved"] += m["moved now"] + m["moved earlier"]
        total["already in the account"] += m["already in the account"]
        total["still to move"] += m["left for the next run"] + m["left for a later pass"]
        total["will not move"] += m["will not move"]
        checked = e.get("checked") or {}
        for key in ("missing", "duplicated"):
            if isinstance(checked.get(key), int):
                total[key] += checked[key]
    return total


def nights_of(out_dir: Path) -> dict[str, list[dict]]:
    """Every kept run summary, oldest first: per job, what each night moved."""
    found: dict[str, list[dict]] = {}
    for path in sorted((out_dir / HISTORY).glob("*-run*.json")):
        kept = read_json(path)
        if not isinstance(kept, dict) or kept.get("command") != "run":
            continue
        for j in _listed(kept.get("jobs")):
            if isinstance(j, dict) and isinstance(j.get("job"), str):
                counts: dict[str, Any] = j["counts"] if isinstance(j.get("counts"), dict) else {}
                moved = counts.get("moved now", counts.get("uploaded"))
                found.setdefault(j["job"], []).append(  # a hand-edited file: its kinds
                    {"started": _kind(j.get("started"), str),  # checked, never trusted
                     "seconds": _kind(j.get("seconds"), int),
                     "state": _kind(j.get("state"), str) or "", "moved": _kind(moved, int)})
    return found


def _listed(value) -> list:
    return value if isinstance(value, list) else []


def _kind(value, kind):
    """*value* if it is of *kind* (bool is not a number here), else None."""
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
