"""Maildir and Maildir++ (Dovecot, Courier, mu, notmuch, Thunderbird's maildir store).

Why not ``mailbox.Maildir``: it needs ``cur/new/tmp``, misses mail stored
outside ``cur``/``new`` (it sees 26 of 53 files in notmuch's test corpus), and
raises on Thunderbird's layout. This reader walks the tree itself:

* a directory is a folder if it has ``cur/`` or ``new/``, or holds message files
  directly; the store root is INBOX;
* Maildir++ folders are ``.Parent.Child`` directories at the root (names in
  modified UTF-7 are decoded); ``LAYOUT=fs`` folders are nested directories;
  Thunderbird's ``Name.sbd/`` and KMail's ``.Name.directory/`` directories hold
  subfolders; KMail's mixed stores keep mbox files beside the maildirs;
* ``tmp/`` holds unfinished deliveries: not mail (listed); dot-files in
  ``cur``/``new`` are ignored as the maildir spec says;
* flags come from the info suffix after ``:2,`` (or ``!2,`` / ``;2,``, Windows-safe
  copies); keywords from ``dovecot-keywords`` or ``courierimapkeywords/``; files
  without an info suffix (Thunderbird) take flags from X-Mozilla-Status;
* INTERNALDATE is the file's mtime (what Dovecot uses), then the headers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from migrate.sources import flags as flagmap
from migrate.sources.base import Folder, NonMail, SourceMessage, Store
from migrate.sources.files import best_date, looks_like_message, mtime, read_message_file
from migrate.sources.mbox import MboxFolder

_INFO = re.compile(r"[:!;]2,([A-Za-z]*)$")
MAILDIR_PARTS = ("cur", "new", "tmp")
METADATA = {"dovecot-keywords", "dovecot-uidlist", "dovecot-uidvalidity", "dovecot.index",
            "dovecot.index.log", "dovecot.index.cache", "dovecot.list.index",
            "dovecot.list.index.log", "dovecot.mailbox.log", "maildirfolder", "maildirsize",
            "subscriptions", "courierimapuiddb", "courierimapacl", "courierimapsubscribed",
            "courierpop3dsizelist", ".noindex", ".noupdate", ".uidvalidity", ".mh_sequences"}
METADATA_DIRS = {"courierimapkeywords", "courierimaphieracl", ".mu", ".notmuch", ".git"}


def decode_mutf7(name: str) -> str:
    """Decode IMAP modified UTF-7 (RFC 3501 5.1.3), as Dovecot stores folder names."""
    if "&" not in name:
        return name
    import base64
    out, i = [], 0
    while i < len(name):
        if name[i] == "&":
            j = name.find("-", i)
            if j < 0:
                return name
            chunk = name[i + 1:j]
            if not chunk:
                out.append("&")
            else:
                b64 = chunk.replace(",", "/")
                b64 += "=" * (-len(b64) % 4)
                try:
                    out.append(base64.b64decode(b64).decode("utf-16-be"))
                except (ValueError, UnicodeDecodeError):
                    return name
            i = j + 1
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def split_info(filename: str) -> tuple[str, str | None]:
    """('1234.host', 'RS') for '1234.host:2,RS'; (name, None) without an info suffix."""
    m = _INFO.search(filename)
    if not m:
        return filename, None
    return filename[: m.start()], m.group(1)


def read_keywords(folder_dir: Path) -> dict[str, str]:
    """Lowercase info letter -> keyword, from dovecot-keywords."""
    path = folder_dir / "dovecot-keywords"
    names = {}
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            num, _, word = line.partition(" ")
            if num.isdigit() and word and int(num) < 26:
                names[chr(ord("a") + int(num))] = word.strip()
    except OSError:
        pass
    return names


def read_courier_keywords(folder_dir: Path) -> dict[str, set[str]]:
    """Message base name -> keywords, from courierimapkeywords/:list."""
    path = folder_dir / "courierimapkeywords" / ":list"
    result: dict[str, set[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return result
    try:
        blank = lines.index("")
    except ValueError:
        return result
    words = lines[:blank]
    for line in lines[blank + 1:]:
        base, _, nums = line.rpartition(":")
        picked = {words[int(n)] for n in nums.split() if n.isdigit() and int(n) < len(words)}
        if base and picked:
            result[base] = picked
    return result


class MaildirFolder(Folder):
    def __init__(self, store: "MaildirStore", name: tuple[str, ...], path: Path):
        super().__init__(store, name, path)

    def message_files(self) -> list[tuple[Path, str]]:
        """(file, key) for every message of this folder: new/, cur/, then loose files."""
        found: list[tuple[Path, str]] = []
        listing = self.store.listing()
        for part in ("new", "cur", None):
            directory = self.path / part if part else self.path
            if not listing.has_dir(directory):
                continue
            for path in sorted(directory.iterdir(), key=lambda p: p.name):
                if path.name.startswith(".") or not (listing.has_file(path) or
                                                     listing.is_broken(path)):
                    continue  # directories, and what the link policy refused (named)
                if part is None and (path.name in METADATA or path.name.startswith("dovecot")
                                     or not looks_like_message(path)
                                     or is_kmail_mbox(path, listing)):
                    continue
                base, _ = split_info(path.name)
                found.append((path, f"{part or '.'}/{base}"))
        return found

    def inputs(self) -> list[Path]:
        """The folder's directories (a message added, removed or renamed changes
        their mtime), its keyword files and every message file."""
        around = [self.path / n for n in ("new", "cur", "dovecot-keywords",
                                          "courierimapkeywords", "courierimapkeywords/:list")]
        return [self.path] + [p for p in around if p.exists()] + [
            path for path, _ in self.message_files()]

    def messages(self) -> Iterator[SourceMessage]:
        keyword_names = read_keywords(self.path)
        courier = read_courier_keywords(self.path)
        for path, key in self.message_files():
            msg, from_line = read_message_file(path, key, strip_from_line=False)
            if msg.skip_reason:
                yield msg
                continue
            base, info = split_info(path.name)
            if info is not None:
                msg.flags, msg.keywords, msg.skip_reason = flagmap.from_maildir_info(
                    info, keyword_names)
            else:
                msg.flags, msg.keywords, msg.skip_reason, msg.notes = \
                    flagmap.from_mbox_headers(msg.data)
            if base in courier:
                msg.keywords = msg.keywords | flagmap.valid_keywords(courier[base])
            msg.internaldate = mtime(path) or best_date(msg.data, from_line, path)
            yield msg


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


class MaildirStore(Store):
    kind = "maildir"

    def folders(self) -> list[Folder]:
        found: list[MaildirFolder] = []
        self._walk(self.path, (), found, top=True)
        found.sort(key=lambda f: f.name)
        return list(found)

    def _walk(self, directory: Path, name: tuple[str, ...], found: list, top: bool,
              holder: bool = False) -> None:
        """Folders at and below *directory*; a *holder* (KMail's ``.Name.directory``)
        only holds the subfolders of ``Name``, it is no folder itself."""
        listing = self.listing()
        if not holder:
            folder = MaildirFolder(self, name, directory)
            if is_maildir(directory) or folder.message_files():
                found.append(folder)
        tmp = directory / "tmp"
        if listing.has_dir(tmp):
            for path in tmp.iterdir():
                if listing.has_file(path) and not path.name.startswith("."):
                    self.non_mail.append(NonMail(path, "unfinished delivery (maildir tmp/)"))
        for path in sorted(p for p in directory.iterdir() if listing.has_file(p)):
            if is_kmail_mbox(path, listing):  # KMail's mixed store: an mbox beside maildirs
                found.append(MboxFolder(self, name + (path.name,), path))
        for sub in sorted(p for p in directory.iterdir() if listing.has_dir(p)):
            if sub.name in MAILDIR_PARTS or sub.name in METADATA_DIRS:
                continue
            kmail = _KMAIL_SUBFOLDERS.fullmatch(sub.name)
            if kmail:  # KMail: the subfolders of "Name" live in ".Name.directory/"
                self._walk(sub, name + (decode_mutf7(kmail.group(1)),), found, top=False,
                           holder=True)
            elif top and sub.name.startswith(".") and is_maildir(sub):
                parts = tuple(decode_mutf7(p) for p in sub.name[1:].split(".") if p)
                self._walk(sub, parts or (sub.name,), found, top=False)
            elif sub.name.startswith("."):
                continue  # hidden: a client's own (named by the plan if it holds files)
            else:
                label = sub.name[:-4] if sub.name.endswith(".sbd") else sub.name
                self._walk(sub, name + (decode_mutf7(label),), found, top=False)

    def harmless(self, path: Path) -> str | None:
        if path.name in METADATA or path.name.startswith("dovecot"):
            return "index or settings of a maildir server"
        if path.name.startswith(".") and path.parent.name in ("cur", "new", "tmp"):
            return "hidden file in a maildir (not mail, by the maildir rules)"
        return super().harmless(path)


_KMAIL_SUBFOLDERS = re.compile(r"\.(.+)\.directory")


def is_kmail_mbox(path: Path, listing) -> bool:
    """A KMail mbox folder among maildirs: a file starting with a From_ line that KMail
    indexes (``.Name.index`` beside it) or that holds more than one message."""
    if path.name.startswith(".") or not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(5)
            if head != b"From ":
                return False
            if listing.has_file(path.with_name(f".{path.name}.index")):
                return True
            return any(line.startswith(b"From ") for line in f)
    except OSError:
        return False


def looks_like_maildir_tree(path: Path, depth: int = 3) -> bool:
    """A maildir at *path* or within *depth* levels below it."""
    if is_maildir(path):
        return True
    if depth == 0:
        return False
    try:
        return any(looks_like_maildir_tree(p, depth - 1) for p in path.iterdir()
                   if p.is_dir() and p.name not in METADATA_DIRS)
    except OSError:
        return False
