"""What the tests of test_platforms share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import errno
import json
import unicodedata
from pathlib import Path

import pytest


def sharing_violation(path):
    e = PermissionError(errno.EACCES, "The process cannot access the file because it is "
                        "being used by another process", str(path))
    e.winerror = 32
    return e


SIMWIN = Path(__file__).resolve().parent.parent / "support" / "simwin"


MODES = {
    "fork": {"MAILMIGRATE_START_METHOD": "fork"},
    "forkserver": {"MAILMIGRATE_START_METHOD": "forkserver"},
    "spawn": {"MAILMIGRATE_START_METHOD": "spawn"},
    "windows": {"MAILMIGRATE_START_METHOD": "spawn", "PYTHONIOENCODING": "cp1252",
                "PYTHONPATH": str(SIMWIN)},
}


NAMES = ["Входящие", "送信済み", unicodedata.normalize("NFD", "Éléments envoyés"), "Ordinär"]


def intl_tree(root: Path) -> Path:
    """Folders of 1-5 MB (read by the plan's workers) with Cyrillic, CJK and NFD names."""
    from tests.support.builders import message, write_mbox
    body = ("Привет, 世界 " * 6 + "\n") * 600
    for n, name in enumerate(NAMES):
        write_mbox(root / name, [message(f"{name} {i}", body=body) for i in range(8 + 4 * n)])
    return root


def summary(report: Path) -> list:
    doc = json.loads((report / "plan.json").read_text(encoding="utf-8"))
    return sorted((f["folder"], f["target"], f["messages"], f["bytes"]) for f in doc["folders"])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return intl_tree(tmp_path_factory.mktemp("intl") / "Local Folders")
