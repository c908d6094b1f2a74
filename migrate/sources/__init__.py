"""Readers for local mail stores, one module per store kind.

``open_store(path)`` detects the kind of store at a path; ``--source-type``
overrides detection.
"""

from __future__ import annotations

from pathlib import Path

from migrate.errors import SourceError
from migrate.sources.base import Folder, SourceMessage, Store
from migrate.sources.mbox import MboxStore, looks_like_mbox
from migrate.sources.mboxtree import MboxTreeStore, looks_like_mbox_tree

STORE_TYPES = {
    "mbox": MboxStore,
    "mbox-tree": MboxTreeStore,
}


def detect(path: Path) -> str:
    """Name the store kind at *path*, or raise SourceError saying what was found."""
    if not path.exists():
        raise SourceError(f"source {path} does not exist")
    if path.is_file():
        if looks_like_mbox(path):
            return "mbox"
        raise SourceError(f"{path} is not a mail store this tool can read (it does not start "
                          "with an mbox 'From ' line); pass --source-type to force a kind")
    if looks_like_mbox_tree(path):
        return "mbox-tree"
    raise SourceError(f"no mail store recognised in directory {path}")


def open_store(path, source_type: str | None = None) -> Store:
    path = Path(path)
    kind = source_type or detect(path)
    try:
        cls = STORE_TYPES[kind]
    except KeyError:
        raise SourceError(f"unknown source type {kind!r}; choose one of "
                          f"{', '.join(sorted(STORE_TYPES))}") from None
    return cls(path)


__all__ = ["Folder", "SourceMessage", "Store", "STORE_TYPES", "detect", "open_store"]
