"""Render plans and run results for people (terminal text) and scripts (JSON)."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from migrate.plan import DONE, DUPLICATE, FAILED, PRESENT, REFUSE, SKIP, UPLOAD, UPLOADED, Plan
from migrate.sources.base import SKIP_REASONS

COLUMNS = [(UPLOAD, "to upload"), (UPLOADED, "uploaded"), (DONE, "done"), (PRESENT, "on server"),
           (DUPLICATE, "duplicates"), (SKIP, "skipped"), (REFUSE, "refused"),
           (FAILED, "failed")]


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def plan_rows(plan: Plan) -> list[dict]:
    rows = []
    for f in plan.folders:
        counts = f.counts()
        rows.append({
            "source": str(f.folder.path),
            "store_type": f.store.kind,
            "folder": f.folder.display_name,
            "target": f.target,
            "mapping_note": f.mapping_note,
            "messages": len(f.messages),
            "bytes": sum(m.size for m in f.messages),
            "upload_bytes": f.bytes_for(UPLOAD),
            **{action: counts.get(action, 0) for action, _ in COLUMNS},
            "reasons": dict(f.reasons()),
        })
    return rows


def render_plan_text(plan: Plan) -> str:
    rows = plan_rows(plan)
    header = ["folder", "-> target", "msgs", "size"] + [label for _, label in COLUMNS]
    table = [header]
    for r in rows:
        table.append([r["folder"], r["target"], str(r["messages"]), human_size(r["bytes"])]
                     + [str(r[action]) for action, _ in COLUMNS])
    totals = plan.totals()
    table.append(["TOTAL", "", str(sum(r["messages"] for r in rows)),
                  human_size(sum(r["bytes"] for r in rows))]
                 + [str(totals.get(action, 0)) for action, _ in COLUMNS])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    notes = []
    for r in rows:
        if r["mapping_note"]:
            notes.append(f"  {r['folder']}: {r['mapping_note']}")
        for reason, n in sorted(r["reasons"].items()):
            notes.append(f"  {r['folder']}: {n} x {SKIP_REASONS.get(reason, reason)}")
    if notes:
        lines += ["", "Notes:"] + notes
    non_mail = collections.Counter(item.kind for item in plan.non_mail())
    if non_mail:
        lines += ["", "Not mail (listed, not uploaded): " +
                  ", ".join(f"{n} x {kind}" for kind, n in sorted(non_mail.items()))]
    return "\n".join(lines)


def non_mail_rows(plan: Plan) -> list[dict]:
    return [{"path": str(item.path), "kind": item.kind} for item in plan.non_mail()]


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
