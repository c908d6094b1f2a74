"""``mailmigrate discover [PATH...]``: which mail stores are on this machine."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from migrate import discover as finding
from migrate.errors import ExitCode, UsageError
from migrate.report import human_size
from migrate.textsafe import shown


def add_parser(sub):
    p = sub.add_parser("discover", help="find mail stores: Thunderbird profiles, Outlook files, "
                                        "maildir, mbox, readpst output")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="search here (default: where mail clients keep mail for this user)")
    p.add_argument("--write-jobs", type=Path, metavar="FILE",
                   help="also write a jobs-file skeleton (one job per person, with all their "
                        "stores) to FILE")
    p.add_argument("--json", action="store_true", help="print the stores as JSON")
    return p


def run(args) -> int:
    found = [finding.measure(f) for f in finding.discover(args.paths or None)]
    if args.json:
        print(json.dumps([{"path": str(f.path), "kind": f.kind, "found_by": f.how_found,
                           "folders": f.folders, "messages": f.messages, "bytes": f.size,
                           "note": f.note, "owner": f.owner} for f in found], indent=2))
    elif not found:
        where = ", ".join(map(str, args.paths)) if args.paths else "the usual places"
        print(f"no mail stores found in {where}; give a folder to search: "
              "mailmigrate discover PATH")
    else:
        for f in found:
            numbers = (f"{f.folders} folders, {f.messages} messages, {human_size(f.size or 0)}"
                       if f.messages is not None else
                       human_size(f.size) if f.size is not None else "")
            who = f", {shown(f.owner)}'s" if f.owner else ""
            print(f"{f.kind:<12} {shown(f.path)}\n{'':<12} {numbers}  (found by "
                  f"{shown(f.how_found)}{who})")
            if f.note:
                print(f"{'':<12} {shown(f.note)}")
    if args.write_jobs:
        if args.write_jobs.exists():
            raise UsageError(f"{args.write_jobs} exists; choose a new file name")
        args.write_jobs.write_text(finding.jobs_skeleton(found, platform.node()),
                                   encoding="utf-8")
        print(f"wrote {args.write_jobs}: edit host and user, then "
              f"'mailmigrate jobs check {args.write_jobs}'")
    return int(ExitCode.SUCCESS)
