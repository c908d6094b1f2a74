"""Map source folder names onto server mailbox names.

Pure functions: the server's shape (namespace prefix, delimiter, special-use
folders) comes in as a :class:`ServerLayout`, read by ``target`` or assumed
(``/``, no prefix) when planning without a server.
"""

from __future__ import annotations

import dataclasses
import unicodedata

from migrate.special_use import special_use_of
from migrate.target.base import ServerLayout, fallback_name

REEXPORTED = (fallback_name,)  # the server's naming rules (target/base.py), named here too

INBOX = "INBOX"

DEFAULT_SPECIAL_NAMES = {"\\Sent": "Sent", "\\Drafts": "Drafts", "\\Trash": "Trash",
                         "\\Junk": "Junk", "\\Archive": "Archive"}


@dataclasses.dataclass(frozen=True)
class MappingRules:
    """The user's say: ``--map OLD=NEW`` rules and an ``--into`` parent.

    Names use "/" between levels whatever the server's delimiter. A rule for
    ``Old`` also moves ``Old/Child``; the longest matching rule wins.
    """

    renames: tuple = ()  # ((source path tuple, target path tuple), ...)
    into: tuple = ()  # target parent path, e.g. ("Imported", "Desktop")

    @classmethod
    def parse(cls, maps=(), into: str | None = None) -> "MappingRules":
        from migrate.errors import check_line
        check_line(into, "--into")
        renames = []
        for rule in maps or ():
            check_line(rule, "--map")
            old, sep, new = rule.partition("=")
            if not sep or not old.strip("/") or not new.strip("/"):
                from migrate.errors import UsageError
                raise UsageError(f"--map {rule!r}: write it as 'Old/Name=New/Name'")
            renames.append((_path(old), _path(new)))
        renames.sort(key=lambda r: -len(r[0]))
        return cls(tuple(renames), _path(into) if into else ())

    def apply(self, name: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
        """(renamed source path, note) before the server mapping."""
        for old, new in self.renames:
            if tuple(p.casefold() for p in name[:len(old)]) == tuple(p.casefold() for p in old):
                return new + name[len(old):], f"--map {'/'.join(old)}={'/'.join(new)}"
        return name, None


def _path(text: str) -> tuple[str, ...]:
    return tuple(unicodedata.normalize("NFC", part) for part in text.split("/") if part)


@dataclasses.dataclass(frozen=True)
class MappedFolder:
    target: str
    note: str | None = None  # why the name differs from the source, for the plan
    special_use: str | None = None  # create with this RFC 6154 use (CREATE-SPECIAL-USE)


def readable_name(part: str) -> tuple[str, list[str]]:
    """*part* as text a server can take: undecodable bytes read as Windows-1252,
    control characters replaced by '_' (each change noted)."""
    notes = []
    if any("\udc80" <= c <= "\udcff" for c in part):  # os.fsdecode's undecodable bytes
        raw = part.encode("utf-8", "surrogateescape")
        try:
            fixed = raw.decode("cp1252")
        except UnicodeDecodeError:
            fixed = raw.decode("latin-1")
        notes.append(f"name {raw!r} is not UTF-8; read as Windows-1252: {fixed!r}")
        part = fixed
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or "\ud800" <= c <= "\udfff" for c in part):
        fixed = "".join("_" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or "\ud800" <= c <= "\udfff"
                        else c for c in part)
        notes.append(f"control characters in {part!r} replaced by '_'")
        part = fixed
    return part, notes


def _safe_component(part: str, delimiter: str, refused_first: str = "") -> tuple[str, list[str]]:
    part, notes = readable_name(part)
    cleaned = " ".join(part.split()) if part.strip() != part or "  " in part else part
    if cleaned != part:
        notes.append(f"blanks trimmed in {part!r}")
    if delimiter and delimiter in cleaned:
        cleaned = cleaned.replace(delimiter, "_")
        notes.append(f"{delimiter!r} in {part!r} replaced by '_'")
    if cleaned and cleaned[0] in refused_first:
        notes.append(f"the server takes no name beginning with {cleaned[0]!r}: "
                     f"{cleaned!r} begins with '_'")
        cleaned = "_" + cleaned[1:]
    return cleaned or "_", notes


def map_folder(name: tuple[str, ...], layout: ServerLayout,
               rules: MappingRules | None = None) -> MappedFolder:
    """Server mailbox name for source folder *name* (path components).

    User rules come first (``--map``). With ``--into PARENT`` every folder,
    Inbox and Sent included, goes under PARENT, keeping its own name. Otherwise
    the store root and "Inbox" become INBOX; a well-known top-level name goes to
    the server's special-use folder (children follow it); everything else is
    recreated under the personal namespace with the server's delimiter.
    """
    notes: list[str] = []
    # composed (NFC), as servers, other clients and people type names: HFS+ gives a
    # Mac's folder names decomposed, and "Éléments envoyés" was not Sent there
    name = tuple(unicodedata.normalize("NFC", part) for part in name)
    if rules:
        name, why = rules.apply(name)
        if why:
            notes.append(why)
        if rules.into:
            name = rules.into + (name or ("Inbox",))
            notes.append(f"under --into {'/'.join(rules.into)}")
            return _plain(name, layout, notes)
    if not name or (len(name) == 1 and name[0].casefold() == "inbox"):
        return MappedFolder(INBOX, "; ".join(notes) or None)
    first = name[0]
    use = special_use_of(first)
    if first.casefold() == "inbox":
        head = INBOX
    elif use:
        head = layout.special_use.get(use) or layout.prefix + DEFAULT_SPECIAL_NAMES[use]
        if head != layout.prefix + first:
            notes.append(f"{first!r} is the special folder {use}")
        mapped = _join([head], name[1:], layout, notes)
        if len(name) == 1 and use not in layout.special_use:
            return dataclasses.replace(mapped, special_use=use)  # to be created with its use
        return mapped
    else:
        return _plain(name, layout, notes)
    return _join([head], name[1:], layout, notes)


def _plain(name: tuple[str, ...], layout: ServerLayout, notes: list[str]) -> MappedFolder:
    """*name* recreated as is under the personal namespace (no special-use mapping)."""
    safe, why = _safe_component(name[0], layout.delimiter, layout.refused_first)
    if safe.casefold() in layout.reserved:
        why.append(f"{safe!r} is reserved by the server for non-mail items")
        safe += " (imported)"
    return _join([layout.prefix + safe], name[1:], layout, notes + why)


def _join(parts: list[str], rest, layout: ServerLayout, notes: list[str]) -> MappedFolder:
    for part in rest:
        safe, why = _safe_component(part, layout.delimiter, layout.refused_first)
        parts.append(safe)
        notes.extend(why)
    return MappedFolder(layout.delimiter.join(parts), "; ".join(notes) or None)




