"""Windows Live Mail (and Windows Mail on Vista): a folder of ``.eml`` files per mail
folder, one directory per account, beside ``Mail.MSMessageStore``.

The messages are plain ``.eml`` files and move byte for byte (``emltree``). Their
read, replied and flagged state is not in them: WLM keeps it in
``Mail.MSMessageStore``, an ESE ("Jet Blue") database that only Windows' own
engine writes. Without a real store to check a reader against, this tool does
not guess at its tables: the messages move with no state (unread), and the plan
says so for every one of them (docs/sources/windows-live-mail.md says what
would carry it: mark all read in WLM before exporting, or on the server after).
The database, its logs and the account files are named, not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from migrate.sources.base import SourceMessage
from migrate.sources.emltree import EmlFolder, EmlTreeStore

DATABASE = "Mail.MSMessageStore"
NOTE_NO_STATE = "wlm-state"
ENGINE_FILES = {".msmessagestore": "Windows Live Mail's database (read state and flags; "
                                   "not readable here)",
                ".log": "Windows Live Mail's database log", ".chk": "database checkpoint",
                ".jrs": "database reserve log", ".jcp": "database checkpoint",
                ".edb": "database scratch file", ".oeaccount": "account settings",
                ".jfm": "database flush map"}


class WlmFolder(EmlFolder):
    def messages(self) -> Iterator[SourceMessage]:
        for msg in super().messages():
            if not msg.skip_reason and not msg.flags:
                msg.notes = (*msg.notes, NOTE_NO_STATE)
            yield msg


class WlmStore(EmlTreeStore):
    kind = "windows-live-mail"
    folder_class = WlmFolder

    def folders(self):
        """Names relative to each account's directory (its ``.oeaccount`` file, or
        "Storage Folders"), so every account's Inbox goes to INBOX, as a
        Thunderbird profile's accounts do."""
        found = super().folders()
        listing = self.listing()
        accounts = {p.parent for p in listing.files if p.suffix.lower() == ".oeaccount"}
        for folder in found:
            top = folder.path
            while top.parent != self.path and self.path in top.parents:
                top = top.parent
            if len(folder.name) > 1 and (top in accounts or top.name == "Storage Folders"):
                folder.name = folder.name[1:]
        return found

    def harmless(self, path: Path) -> str | None:
        what = ENGINE_FILES.get(path.suffix.lower())
        if what is not None and path.suffix.lower() != ".eml":
            return what
        return super().harmless(path)


def looks_like_wlm(listing) -> bool:
    return any(p.name.lower() == DATABASE.lower() for p in listing.files)
