"""Thunderbird profiles: every POP and Local Folders account of a profile.

A profile holds ``Mail/<account>/`` directories (``Local Folders``, one per POP
server), each a tree of mbox files (``Name`` + ``Name.msf``, subfolders in
``Name.sbd/``) or, with the maildir store, of maildir folders. Folder names
are relative to the account, so every account's Inbox goes to INBOX (the
fingerprint dedup keeps overlapping copies from doubling). ``ImapMail/`` is a
cache of mail already on an IMAP server: listed, not migrated.

Not done: Thunderbird hashes over-long or illegal folder names on disk and
keeps the real name only in the Mork ``.msf`` index; such folders keep their
hashed file name (rename with ``--map``).
"""

from __future__ import annotations

import re
from pathlib import Path

from migrate.sources.accounting import MAIL_SUFFIXES
from migrate.sources.base import Folder, NonMail, Store, path_inside
from migrate.sources.maildir import MaildirStore, looks_like_maildir_tree
from migrate.sources.mboxtree import MboxTreeStore


def account_dirs(profile: Path) -> list[Path]:
    mail = profile / "Mail" if (profile / "Mail").is_dir() else profile
    return sorted(p for p in mail.iterdir() if p.is_dir())


_DIRECTORY = re.compile(
    r'user_pref\("mail\.server\.[^".]+\.directory(-rel)?",\s*"((?:[^"\\]|\\.)*)"\)')


def outside_accounts(profile: Path) -> list[Path]:
    """Account folders prefs.js names that lie outside the profile's own Mail folders
    (Thunderbird lets an account keep its mail anywhere, ``D:\\Mail\\pop.example.org``):
    existing folders, each once."""
    try:
        text = (profile / "prefs.js").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Path] = []
    for relative, value in _DIRECTORY.findall(text):
        value = value.replace("\\\\", "\\")  # prefs.js escapes backslashes
        if relative:
            if not value.startswith("[ProfD]"):
                continue
            path = profile.joinpath(*value[len("[ProfD]"):].replace("\\", "/").split("/"))
        else:
            path = Path(value)
        try:
            real = path.resolve()
            if path_inside([profile], real) or not real.is_dir() or real in found:
                continue
        except (OSError, ValueError):  # a path no system holds (a NUL in prefs.js): not one
            continue
        found.append(real)
    return found


def is_profile(path: Path) -> bool:
    """A Thunderbird profile (prefs.js, or Mail/Local Folders), or its Mail folder. Not
    any folder holding a "Mail" folder: on a Mac ``~/Library/Mail`` is Apple Mail's."""
    return (path / "prefs.js").is_file() or (path / "Mail" / "Local Folders").is_dir() or \
        (path.name == "Mail" and (path / "Local Folders").is_dir())


class ThunderbirdStore(Store):
    kind = "thunderbird"

    def folders(self) -> list[Folder]:
        found: list[Folder] = []
        listing = self.listing()
        for account in account_dirs(self.path):
            if not listing.has_dir(account):
                continue  # a loop or a second path to the same folder: named in non_mail
            if looks_like_maildir_tree(account):
                inner: Store = MaildirStore(account)
            else:
                inner = MboxTreeStore(account)
            inner.share_listing(self)
            for folder in inner.folders():
                folder.store = self
                found.append(folder)
            self.non_mail.extend(inner.non_mail)
        imap = self.path / "ImapMail"
        if imap.is_dir():
            for path in sorted(imap.iterdir()):
                self.non_mail.append(NonMail(path, "IMAP account cache (already on a server)"))
        for path in outside_accounts(self.path):  # named, never skipped in silence
            self.non_mail.append(NonMail(path, "an account's folder outside this profile "
                                               "(prefs.js): give it as a source too"))
        return found

    def harmless(self, path: Path) -> str | None:
        """Outside the accounts' folders a profile holds Thunderbird's own files
        (settings, address books, caches): none of them is mail."""
        mail = self.path / "Mail" if (self.path / "Mail").is_dir() else self.path
        if mail != self.path and mail not in path.parents \
                and path.suffix.lower() not in MAIL_SUFFIXES:
            return "Thunderbird profile file"
        if path.parent == mail:
            return "Thunderbird account list file"
        return super().harmless(path)
