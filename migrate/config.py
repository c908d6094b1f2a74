"""Defaults for command options from a TOML file (``--config FILE``).

    # mailmigrate.toml
    into = "Imported/Desktop"
    dedup_across_folders = false
    max_bytes_per_second = 5800
    [map]
    "Clients" = "Customers"
    "Sent Items/Old" = "Archive/Sent 2010"

Command-line options win over the file. Unknown keys are refused by name, so
a typo never silently does nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from migrate.errors import UsageError

KNOWN = {"map": dict, "into": str, "dedup_across_folders": bool,
         "max_messages_per_second": (int, float), "max_bytes_per_second": (int, float)}


def load(path: Path) -> dict:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read the config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: {e}") from None
    for key, value in data.items():
        if key not in KNOWN:
            raise UsageError(f"{path}: unknown key {key!r}; known keys: {', '.join(sorted(KNOWN))}")
        if not isinstance(value, KNOWN[key]):
            raise UsageError(f"{path}: {key!r} has the wrong type ({type(value).__name__})")
    for old, new in data.get("map", {}).items():
        if not isinstance(new, str):
            raise UsageError(f"{path}: [map] {old!r} must map to a folder name (a string)")
    return data


def apply(args, data: dict) -> None:
    """Fill options the command line left unset from the config file."""
    args.map = [f"{old}={new}" for old, new in data.get("map", {}).items()] + (args.map or [])
    if getattr(args, "into", None) is None and "into" in data:
        args.into = data["into"]
    if not args.dedup_across_folders and data.get("dedup_across_folders"):
        args.dedup_across_folders = True
    for key in ("max_messages_per_second", "max_bytes_per_second"):
        if hasattr(args, key) and getattr(args, key) is None and key in data:
            setattr(args, key, float(data[key]))
