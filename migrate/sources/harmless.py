"""Files mail clients and systems keep beside mail, never mail themselves: what
``Store.harmless`` answers by default (``sources.accounting`` explains the three
places every file goes)."""

from __future__ import annotations

from pathlib import Path

# Files mail clients and systems keep beside mail: never mail themselves.
HARMLESS_NAMES = {
    ".DS_Store": "Finder settings", "Thumbs.db": "Windows thumbnails",
    "desktop.ini": "Windows folder settings", ".localized": "Finder settings",
    "Icon\r": "Finder icon", ".keep": "placeholder", ".gitkeep": "placeholder",
    "Info.plist": "Apple Mail folder settings", "Envelope Index": "Apple Mail index",
    ".mh_sequences": "MH sequences (read for flags)", ".mh_profile": "MH settings",
    ".sylpheed_mark": "Sylpheed flags (read for flags)",
    ".sylpheed_cache": "Sylpheed cache", ".claws_mark": "Claws Mail flags (read for flags)",
    ".claws_cache": "Claws Mail cache", ".mh_sequences.lock": "MH lock",
}
HARMLESS_SUFFIXES = {
    ".msf": "Thunderbird index", ".plist": "settings (property list)",
    ".sqlite": "database of a mail client's index", ".sqlite-wal": "database journal",
    ".sqlite-shm": "database journal", ".dat": "index of a mail client",
    ".ibex": "index of a mail client", ".toc": "index of a mail client",
    ".index": "KMail index", ".index.ids": "KMail index", ".index.sorted": "KMail index",
    ".ids": "KMail index", ".sorted": "KMail index", ".lock": "lock file",
}

def harmless(path: Path) -> str | None:
    """What *path* is when it is a known file that is not mail, else None."""
    name = path.name
    if name in HARMLESS_NAMES:
        return HARMLESS_NAMES[name]
    if name.startswith("._"):
        return "macOS resource fork"
    lower = name.lower()
    for suffix, what in HARMLESS_SUFFIXES.items():
        if lower.endswith(suffix):
            return what
    return None
