"""What the tests of test_plan_report share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import jsonschema

from migrate.report import SCHEMA_FILE
from tests.support.builders import message, write_mbox

KINDS = ["mbox", "mbox-tree", "maildir", "eml-tree", "thunderbird"]


SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def msg(kind: str, i: int, year: int, **kw) -> bytes:
    return message(f"{kind} message {i}", date=f"Mon, 03 Feb {year} 10:00:{i:02d} +0000",
                   msgid=f"<{kind}.{i}@example.org>", **kw)


def make_store(root: Path, kind: str) -> tuple[Path, int]:
    """A small store of *kind* with messages from 2019-2021; returns (path, messages)."""
    root.mkdir(parents=True, exist_ok=True)
    dates = [dt.datetime(2019 + i % 3, 2, 3, 10, 0, i) for i in range(6)]
    msgs = [msg(kind, i, d.year) for i, d in enumerate(dates)]
    if kind == "mbox":
        return write_mbox(root / "old.mbox", msgs, dates), 6
    if kind in ("mbox-tree", "thunderbird"):
        base = root / "profile" / "Mail" / "Local Folders" if kind == "thunderbird" else root
        write_mbox(base / "Inbox", msgs[:3], dates[:3])
        write_mbox(base / "Projects.sbd" / "Alpha", msgs[3:], dates[3:])
        if kind == "thunderbird":
            (root / "profile" / "prefs.js").write_text("// prefs\n")
            return root / "profile", 6
        return root, 6
    if kind == "maildir":
        for folder, start in (("", 0), (".Work", 3)):
            for sub in ("cur", "new", "tmp"):
                (root / folder / sub).mkdir(parents=True, exist_ok=True)
            for i in range(start, start + 3):
                path = root / folder / "cur" / f"{1600000000 + i}.M{i}P1.host:2,S"
                path.write_bytes(msgs[i])
                when = dates[i].replace(tzinfo=dt.timezone.utc).timestamp()
                os.utime(path, (when, when))  # maildir: the file time is the date
        return root, 6
    if kind == "eml-tree":
        for i, data in enumerate(msgs):
            folder = root / ("Inbox" if i < 3 else "Work")
            folder.mkdir(exist_ok=True)
            (folder / f"{i}.eml").write_bytes(data)
        return root, 6
    raise AssertionError(kind)


def validate(document: dict) -> None:
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())


def read_report(directory: Path) -> tuple[dict, list[dict], str]:
    document = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
    with open(directory / "plan.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return document, rows, (directory / "plan.html").read_text(encoding="utf-8")


def server_state(account) -> dict:
    """Everything plan must not change: mailboxes, counts, UIDs, flags, \\Recent."""
    c = account.client()
    try:
        out = {}
        for flags, _, name in c.list_folders():
            status = c.folder_status(name, ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
                                            "UNSEEN"])
            if {b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags}:
                out[name] = (sorted(flags), None)
                continue
            c.select_folder(name, readonly=True)
            uids = c.search(["ALL"])
            fetched = c.fetch(uids, ["FLAGS"]) if uids else {}
            out[name] = (sorted(flags), status, {u: sorted(v[b"FLAGS"])
                                                 for u, v in fetched.items()})
        return out
    finally:
        c.logout()


def mixed_sources(root: Path) -> Path:
    """Folders with a duplicate, a deleted message, one too large, and plain mail."""
    inbox = [message(f"inbox {i}", date=f"Tue, 0{i + 1} Mar 2022 09:00:00 +0000")
             for i in range(5)]
    inbox.append(inbox[1])  # a second copy in the same folder
    inbox.append(message("deleted one", extra="X-Status: D"))
    inbox.append(message("huge", body="h" * 40_000 + "\n"))
    write_mbox(root / "Inbox", inbox)
    write_mbox(root / "Sent", [message(f"sent {i}", date="Wed, 04 May 2016 09:00:00 +0000")
                               for i in range(3)])
    write_mbox(root / "Projects.sbd" / "Beta", [message(f"beta {i}") for i in range(4)])
    return root


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")
