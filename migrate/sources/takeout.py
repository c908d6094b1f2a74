"""Gmail Takeout: one mbox of all mail, each message's labels in ``X-Gmail-Labels``.

Gmail has labels, not folders; Takeout writes every message once, with its
labels (RFC 2047-encoded and folded when not ASCII). Here each label is a
folder and a message is in the folder of each of its labels: the plan sends it
once and copies it on the server (copy-once). The system labels, in English
and French exports (the two seen in real exports; another locale's names are
folders by their names: rename with ``--map``):

* Inbox -> INBOX; Sent, Drafts, Spam, Trash -> the server's special folders (as
  the mapping rules name them); a message in Spam or Trash is there only, as
  Gmail shows it, not in its other labels' folders;
* Unread -> not ``\\Seen`` (every other message is read), Starred -> ``\\Flagged``,
  Drafts -> ``\\Draft`` too, Important and the inbox categories -> keywords;
* Opened and Archived carry no place: a message with no other label goes to
  Archive (Gmail's "All Mail" without the inbox);
* nested labels (``Petite enfance/École``) are nested folders.

The message bytes move as Takeout wrote them, ``X-Gmail-Labels`` included.
"""

from __future__ import annotations

import email.header
from pathlib import Path
from typing import Iterator

from migrate import headers
from migrate.errors import SourceError
from migrate.sources.base import Folder, SourceMessage, Store
from migrate.sources.flags import DRAFT, FLAGGED, SEEN
from migrate.sources.mbox import (
    MboxAt,
    MboxFolder,
    NotAnMbox,
    is_mboxrd,
    looks_like_mbox,
    mbox_spans,
    mboxrd_unquoted,
    open_mbox,
)

INBOX, SENT, DRAFTS, SPAM, TRASH = ("INBOX",), ("Sent",), ("Drafts",), ("Spam",), ("Trash",)
ARCHIVE, CHATS = ("Archive",), ("Chats",)
# label (casefolded) -> a place (folder) or a mark (flag or keyword)
SYSTEM = {
    "inbox": INBOX, "boîte de réception": INBOX,
    "sent": SENT, "messages envoyés": SENT,
    "drafts": DRAFTS, "brouillons": DRAFTS,
    "spam": SPAM,
    "trash": TRASH, "corbeille": TRASH,
    "chat": CHATS, "chats": CHATS,
}
MARKS = {
    "unread": "unread", "non lus": "unread",
    "opened": "opened", "ouvert": "opened",
    "archived": "archived", "messages archivés": "archived",
    "starred": FLAGGED, "favoris": FLAGGED,
    "important": "$Important",
}
PROBE = 64 << 10


def labels_of(data: bytes) -> list[str]:
    """The labels of one Takeout message: unfolded, decoded, split on commas (a label
    holding a comma is written in double quotes)."""
    raw = headers.get_header(data, "x-gmail-labels")
    if raw is None:
        return []
    text = _decoded(raw)
    labels: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            labels.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    labels.append("".join(current).strip())
    return [label for label in labels if label]


def _decoded(raw: bytes) -> str:
    value = raw.decode("utf-8", "replace")
    try:
        parts = email.header.decode_header(value)
    except (ValueError, LookupError):  # a broken encoded word: the text as it is
        return value
    return "".join(_word(p, c) for p, c in parts)


def _word(part, charset: str | None) -> str:
    if not isinstance(part, bytes):
        return part
    try:
        return part.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset no codec knows: the bytes as UTF-8, else Latin-1
        return part.decode("utf-8", "replace")


def places_and_marks(labels: list[str]) -> tuple[list[tuple[str, ...]], frozenset,
                                                 frozenset]:
    """(folders, flags, keywords) of a message with these labels."""
    places: list[tuple[str, ...]] = []
    flags, keywords = {SEEN}, set()
    for label in labels:
        key = label.casefold()
        if key in SYSTEM:
            places.append(SYSTEM[key])
        elif key in MARKS:
            mark = MARKS[key]
            if mark == "unread":
                flags.discard(SEEN)
            elif mark.startswith("\\"):
                flags.add(mark)
            elif mark.startswith("$"):
                keywords.add(mark)
        elif key.startswith(("category ", "catégorie ")):
            keywords.add("$" + label.split(" ", 1)[1].replace(" ", "_"))
        else:
            places.append(tuple(p for p in label.split("/") if p) or (label,))
    if DRAFTS in places:
        flags.add(DRAFT)
    for only in (TRASH, SPAM):  # Gmail shows such a message there alone
        if only in places:
            places = [only]
            break
    if not places:
        places = [ARCHIVE]
    return list(dict.fromkeys(places)), frozenset(flags), frozenset(keywords)


class TakeoutFolder(Folder):
    """One label of a Takeout mbox: the messages that carry it, read where they are."""

    def __init__(self, store, name, path: Path, spans: list[tuple[int, int, int]],
                 unquote: bool):
        super().__init__(store, name, path)
        self.spans = spans  # (From_ line offset, message offset, length) of each message
        self.unquote = unquote

    def inputs(self) -> list[Path]:
        return [self.path]

    def reader_options(self) -> tuple:
        return ("takeout-label",)

    def messages(self) -> Iterator[SourceMessage]:
        """Each message read by its place (one read each, never a split of the file
        again): a label's messages are scattered through the one big file."""
        reader = MboxFolder(self.store, self.name, self.path)
        with open_mbox(self.path) as f:
            for offset, at, length in self.spans:
                f.seek(offset)
                raw = f.read(at - offset + length)
                if len(raw) != at - offset + length:
                    raise SourceError(f"{self.path} changed while it was read: it is shorter "
                                      "than when its labels were listed; run again")
                from_line = raw[:at - offset].rstrip(b"\r\n")
                data = raw[at - offset:]
                if self.unquote:
                    data = mboxrd_unquoted(data)
                msg = reader._message(offset, f"@{offset}:{at}+{length}", from_line, data)
                _, msg.flags, msg.keywords = places_and_marks(labels_of(data))
                yield msg

    def direct_reader(self) -> MboxAt:
        return MboxAt(self.path)


class TakeoutStore(Store):
    """A Takeout mbox (or a directory of them: ``Takeout/Mail/``)."""

    kind = "takeout"

    def mbox_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return [p for p in self.listing().files if is_takeout_mbox(p)]

    def folders(self) -> list[Folder]:
        found: dict[tuple[Path, tuple[str, ...]], list[tuple[int, int, int]]] = {}
        unquoted: dict[Path, bool] = {}
        for path in self.mbox_files():
            with open_mbox(path) as f:
                try:
                    for offset, _, at, data in mbox_spans(f):
                        if path not in unquoted:
                            unquoted[path] = is_mboxrd(data)
                        places, _, _ = places_and_marks(labels_of(data))
                        for place in places:
                            found.setdefault((path, place), []).append((offset, at, len(data)))
                except (NotAnMbox, OSError) as e:
                    raise SourceError(f"cannot read the Takeout file {path}: {e}") from e
        return [TakeoutFolder(self, name, path, spans, unquoted.get(path, False))
                for (path, name), spans in sorted(found.items(), key=lambda kv: kv[0][1])]


def is_takeout_mbox(path: Path) -> bool:
    """An mbox whose first message carries Gmail's X-GM-THRID or X-Gmail-Labels."""
    if not looks_like_mbox(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(PROBE)
    except OSError:
        return False
    block = head[:headers.header_end(head)].lower()
    return b"\nx-gmail-labels:" in block or b"\nx-gm-thrid:" in block
