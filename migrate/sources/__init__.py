"""Readers for local mail stores, one module per store kind.

``open_store(path)`` detects the kind of store at a path; ``--source-type``
overrides detection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migrate.errors import SourceError
from migrate.sources.applemail import AppleMailStore, looks_like_apple_mail
from migrate.sources.base import Folder, SourceMessage, Store
from migrate.sources.emltree import EmlTreeStore, looks_like_eml_tree
from migrate.sources.maildir import MaildirStore, looks_like_maildir_tree
from migrate.sources.mbox import MboxStore, looks_like_mbox
from migrate.sources.mboxtree import MboxTreeStore, looks_like_mbox_tree
from migrate.sources.mh import MhStore, looks_like_mh_tree
from migrate.sources.msg import MsgStore, looks_like_msg_tree
from migrate.sources.olm import OlmStore, looks_like_olm
from migrate.sources.outlook_express import (
    OutlookExpressStore,
    file_kind,
    looks_like_outlook_express,
)
from migrate.sources.pst import PstStore
from migrate.sources.takeout import TakeoutStore, is_takeout_mbox
from migrate.sources.thunderbird import ThunderbirdStore, is_profile
from migrate.sources.walk import walk
from migrate.sources.windows_live_mail import WlmStore, looks_like_wlm

STORE_TYPES: dict[str, Any] = {  # name -> the Store class that reads it
    "mbox": MboxStore,
    "mbox-tree": MboxTreeStore,
    "maildir": MaildirStore,
    "eml-tree": EmlTreeStore,
    "thunderbird": ThunderbirdStore,
    "pst": PstStore,
    "mh": MhStore,
    "apple-mail": AppleMailStore,
    "takeout": TakeoutStore,
    "outlook-express": OutlookExpressStore,
    "olm": OlmStore,
    "msg": MsgStore,
    "windows-live-mail": WlmStore,
}


def detect(path: Path) -> str:
    """Name the store kind at *path*, or raise SourceError saying what was found."""
    return _detect(path)[0]


def _detect(path: Path):
    """(kind, the directory's listing when detection had to walk it, else None)."""
    if not path.exists():
        raise SourceError(f"source {path} does not exist")
    if not path.is_file() and not path.is_dir():
        raise SourceError(f"source {path} is not a file or a directory (a FIFO, socket or "
                          "device is never read)")
    if path.is_file():
        return _file_kind(path), None
    try:
        found = _directory_kind(path)
    except OSError as e:
        raise SourceError(f"cannot read the directory {path}: {e.strerror}") from None
    if found is None:
        raise SourceError(f"no mail store recognised in directory {path} (looked for a "
                          "Thunderbird profile, maildir, KMail, MH, Apple Mail, Outlook "
                          "Express, Gmail Takeout, mbox files and .eml files); pass "
                          "--source-type to force a kind")
    return found


def _file_kind(path: Path) -> str:
    """The kind of a store that is one file, or a sentence saying why it is none."""
    if looks_like_mbox(path):
        return "takeout" if is_takeout_mbox(path) else "mbox"
    if path.suffix.lower() == ".pst":
        return "pst"
    if file_kind(path) in ("messages", "mbx"):
        return "outlook-express"
    if looks_like_olm(path):
        return "olm"
    if path.suffix.lower() == ".msg":
        return "msg"
    if path.suffix.lower() == ".ost":
        raise SourceError(f"{path} is an Outlook .ost file: an offline copy of a mailbox "
                          "that lives on a server (Exchange, Office 365); its mail is "
                          "already there. Migrate that server mailbox instead")
    raise SourceError(f"{path} is not a mail store this tool can read (it does not start "
                      "with an mbox 'From ' line); pass --source-type to force a kind")


def _directory_kind(path: Path):
    """(kind, the listing if it was walked) of a store that is a directory, or None."""
    if is_profile(path):
        return "thunderbird", None
    if looks_like_maildir_tree(path):
        return "maildir", None
    listing = walk(path)
    if any(is_takeout_mbox(p) for p in listing.files):
        return "takeout", listing
    if any(looks_like_olm(p) for p in listing.files):
        return "olm", listing
    if looks_like_outlook_express(listing):
        return "outlook-express", listing
    if looks_like_wlm(listing):
        return "windows-live-mail", listing
    if looks_like_msg_tree(listing):
        return "msg", listing
    if looks_like_mh_tree(listing):
        return "mh", listing
    if looks_like_apple_mail(listing):
        return "apple-mail", listing
    if any(p.suffix.lower() == ".eml" for p in listing.files):
        return "eml-tree", listing
    if looks_like_mbox_tree(path, listing):
        return "mbox-tree", listing
    if looks_like_eml_tree(path, listing):
        return "eml-tree", listing
    return None


def open_store(path, source_type: str | None = None, pst_codepage: str | None = None,
               pst_reports: str = "upload") -> Store:
    path = Path(path)
    kind, listing = (source_type, None) if source_type else _detect(path)
    try:
        cls = STORE_TYPES[kind]
    except KeyError:
        raise SourceError(f"unknown source type {kind!r}; choose one of "
                          f"{', '.join(sorted(STORE_TYPES))}") from None
    if cls is PstStore:
        return PstStore(path, codepage=pst_codepage, reports=pst_reports)
    store = cls(path)
    if listing is not None:
        store.use_listing(listing)  # detection walked the tree already: not twice
    return store


__all__ = ["Folder", "SourceMessage", "Store", "STORE_TYPES", "detect", "open_store"]
