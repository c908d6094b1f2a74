"""Find the mail stores on a machine: where mail clients keep them, or under a folder.

Thunderbird is found through its ``profiles.ini`` in every place it lives on
Windows (``%APPDATA%\\Thunderbird``), macOS (``~/Library/Thunderbird``) and
Linux (``~/.thunderbird``, snap and flatpak), whatever system this runs on, so
a copied home folder is searched the same way. Likewise Outlook's data files,
Windows Live Mail, Outlook Express identities, Apple Mail (``~/Library/Mail``),
Outlook for Mac (named: its database is not read; an .olm export is), KMail,
MH and maildir/mbox folders, and exports left in Documents, Desktop and
Downloads (.olm, .msg, Takeout, mbox). Other stores are found by looking at
the files themselves.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
from pathlib import Path

from migrate.errors import UsageError
from migrate.sources.base import path_inside
from migrate.sources.maildir import is_maildir, looks_like_maildir_tree
from migrate.sources.mbox import looks_like_mbox
from migrate.sources.thunderbird import is_profile
from migrate.textsafe import shown

MAX_DEPTH = 6
ELSEWHERE = "elsewhere"  # a profile a profiles.ini names outside the searched folder
APPLE_MAIL = "apple-mail"  # ~/Library/Mail
OUTLOOK_MAC = "outlook-mac"  # Outlook for Mac's own database: named, with what to do
OUTLOOK_MAC_HOW = ("Outlook for Mac keeps its mail in its own database, which is not read: "
                   "in Outlook choose File > Export..., save an .olm archive, and give the "
                   ".olm as a source (docs/sources/olm.md)")
NAMED_ONLY = {ELSEWHERE, OUTLOOK_MAC}
OUTLOOK_HOW = ("Outlook data file: read it directly with 'pip install mailmigrate[pst]' where "
               "available, or export it with 'readpst -r -D -j 0 -o OUTDIR FILE' and use OUTDIR "
               "(docs/sources/eml-and-readpst.md). An .ost is a cache of a server mailbox: "
               "usually nothing to migrate.")


@dataclasses.dataclass
class Found:
    path: Path
    kind: str  # a store type (thunderbird, maildir, mbox, mbox-tree, eml-tree) or "outlook"
    how_found: str
    folders: int | None = None
    messages: int | None = None
    size: int | None = None
    note: str | None = None
    owner: str | None = None  # whose home it was found in (names the job)


def thunderbird_roots(home: Path, env: dict) -> list[Path]:
    """Where Thunderbird keeps profiles.ini on Windows, macOS and Linux (all are checked)."""
    roots = []
    if env.get("APPDATA"):
        roots.append(Path(env["APPDATA"]) / "Thunderbird")
    roots += [home / "AppData" / "Roaming" / "Thunderbird",  # Windows
              home / "Library" / "Thunderbird",  # macOS
              home / ".thunderbird",  # Linux
              home / "snap" / "thunderbird" / "common" / ".thunderbird",
              home / ".var" / "app" / "org.mozilla.Thunderbird" / ".thunderbird",
              home / ".mozilla-thunderbird",  # old Debian/Ubuntu
              home / ".icedove"]  # Debian's Icedove (2007-2017)
    unique = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def profiles_from_ini(root: Path, within: Path | None = None) -> list[Path]:
    """Profile directories listed in *root*/profiles.ini (relative or absolute paths)
    that lie *within* the searched folder (``elsewhere_in_ini`` names the others)."""
    return [p for p in _ini_profiles(root) if within is None or _inside(p, within)]


def elsewhere_in_ini(root: Path, within: Path) -> list[Path]:
    """Profiles *root*/profiles.ini points to outside *within* (``Path=../../<another
    home>``): somebody else's mail, never attributed to this home."""
    return [p for p in _ini_profiles(root) if not _inside(p, within)]


def _inside(path: Path, folder: Path) -> bool:
    return path_inside([folder], path) is not None


def _ini_profiles(root: Path) -> list[Path]:
    ini = root / "profiles.ini"
    if not ini.is_file():
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return []
    found = []
    for section in parser.sections():
        if not section.lower().startswith("profile") or "path" not in parser[section]:
            continue
        raw = parser[section]["path"]
        relative = parser[section].get("isrelative", "1").strip() == "1"
        path = root.joinpath(*raw.replace("\\", "/").split("/")) if relative else Path(raw)
        if path.is_dir() and path not in found:
            found.append(path)
    return found


# "Outlook Files" as Outlook names it in Documents, in the languages of its installers
OUTLOOK_FILES = ("Outlook Files", "Outlook-Dateien", "Fichiers Outlook", "Archivos de Outlook",
                 "File di Outlook", "Outlook-bestanden", "Arquivos do Outlook",
                 "Ficheiros do Outlook", "Outlook-filer", "Pliki programu Outlook",
                 "Outlook-tiedostot", "Outlook-fájlok", "Soubory aplikace Outlook",
                 "Файлы Outlook")


def documents_folders(home: Path, env: dict) -> list[Path]:
    """Documents, and where OneDrive moved it (a business OneDrive is "OneDrive - Org")."""
    found = [home / "Documents", home / "My Documents"]
    for variable in ("OneDrive", "OneDriveCommercial", "OneDriveConsumer"):
        if env.get(variable):
            found.append(Path(env[variable]) / "Documents")
    try:
        found += [p / "Documents" for p in sorted(home.glob("OneDrive*")) if p.is_dir()]
    except OSError:
        pass
    return list(dict.fromkeys(found))


def outlook_places(home: Path, env: dict) -> list[Path]:
    places = []
    if env.get("LOCALAPPDATA"):
        places.append(Path(env["LOCALAPPDATA"]) / "Microsoft" / "Outlook")
    places.append(home / "AppData" / "Local" / "Microsoft" / "Outlook")
    places += [docs / name for docs in documents_folders(home, env) for name in OUTLOOK_FILES]
    return places


def live_mail_places(home: Path, env: dict) -> list[Path]:
    """Windows Live Mail's store (and Vista's Windows Mail): .eml folders per account."""
    places = []
    locals_ = [Path(env["LOCALAPPDATA"])] if env.get("LOCALAPPDATA") else []
    locals_.append(home / "AppData" / "Local")
    for local in locals_:
        places += [local / "Microsoft" / "Windows Live Mail",
                   local / "Microsoft" / "Windows Mail" / "Local Folders"]
    return places


def outlook_express_places(home: Path, env: dict) -> list[Path]:
    """Outlook Express store folders: one per identity, on XP and on a copied old disk."""
    places = []
    for local in ([Path(env["LOCALAPPDATA"])] if env.get("LOCALAPPDATA") else []) + [
            home / "AppData" / "Local", home / "Local Settings" / "Application Data"]:
        identities = local / "Identities"
        try:
            for identity in sorted(identities.iterdir()):
                places.append(identity / "Microsoft" / "Outlook Express")
        except OSError:
            continue
    return places


def kmail_places(home: Path) -> list[Path]:
    """KMail's maildir trees (KDE 4 to 6, and KMail 1 of KDE 3)."""
    return [home / ".local" / "share" / "local-mail", home / ".kde" / "share" / "apps" /
            "kmail" / "mail", home / ".kde4" / "share" / "apps" / "kmail" / "mail"]


def export_places(home: Path, env: dict) -> list[Path]:
    """Where people leave exports: .olm archives, dragged-out .msg files, Takeout."""
    return documents_folders(home, env) + [home / "Desktop", home / "Downloads"]


def mail_places(home: Path, env: dict) -> list[Path]:
    """Usual places of maildir and mbox stores on Unix-like systems."""
    user = env.get("USER") or env.get("USERNAME") or ""
    places = [home / "Maildir", home / "mail", home / "Mail", home / ".mail",
              home / ".local" / "share" / "evolution" / "mail" / "local"]
    if user:
        places.append(Path("/var/mail") / user)
    return places


def discover(paths: list[Path] | None = None, home: Path | None = None,
             env: dict | None = None) -> list[Found]:
    """Stores under *paths*, or (without paths) in the usual places of this user."""
    env = dict(os.environ if env is None else env)
    found: list[Found] = []
    if paths:
        for path in map(Path, paths):
            if not path.exists():
                raise UsageError(f"{path} does not exist; give a folder or file to search")
            here = scan(path)
            if path.is_dir() and not any(f.path == path for f in here):
                # a home or a folder of homes: also where each mail client keeps its mail
                homes = [path] + ([] if _looks_like_home(path) else _homes_in(path))
                here = [f for home in homes for f in usual_places(home, {})] + here
                for f in here:
                    f.owner = f.owner or _owner(path, f.path)
            found += here
        return _unique(_with_outside_accounts(found))
    return _unique(_with_outside_accounts(usual_places(home or Path.home(), env)))


def _with_outside_accounts(found: list[Found]) -> list[Found]:
    """*found* and, after each Thunderbird profile, the account folders its prefs.js
    keeps outside it (``D:\\Mail\\pop.example.org``): stores of their own."""
    from migrate.sources.thunderbird import outside_accounts
    out = []
    for f in found:
        out.append(f)
        if f.kind == "thunderbird":
            for path in outside_accounts(f.path):
                for inner in scan(path, how=f"prefs.js of {f.path}"):
                    inner.owner = f.owner
                    out.append(inner)
    return out


def _owner(searched: Path, store: Path) -> str:
    """The person a store belongs to: the home folder's name (``/home/anna`` -> anna),
    or under a folder of homes the first folder below it."""
    try:
        rel = store.relative_to(searched)
    except ValueError:
        return searched.name
    first = rel.parts[0] if rel.parts else ""
    if first and not first.startswith(".") and first not in _NOT_A_PERSON and (
            searched.name.lower() in ("home", "users", "homes", "backup", "backups")
            or (not _looks_like_home(searched) and _looks_like_home(searched / first))):
        return first  # a folder of homes, whatever it is called: each home its person
    return searched.name


_HOME_MARKS = ("AppData", "Library", "Documents", "My Documents", "Desktop", ".thunderbird",
               "Maildir", "mail", "Mail", ".mozilla-thunderbird", ".icedove", "NTUSER.DAT")


def _looks_like_home(path: Path) -> bool:
    """A person's home folder: it holds what homes hold (AppData, Library, Documents,
    .thunderbird, Maildir...)."""
    return any((path / mark).exists() for mark in _HOME_MARKS)


def _homes_in(folder: Path) -> list[Path]:
    """The home folders directly in *folder* (a copied C:\\Users, /home, a backup)."""
    try:
        return [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.is_symlink()
                and _looks_like_home(p)]
    except OSError:
        return []


_NOT_A_PERSON = {"Maildir", "mail", "Mail", "AppData", "Documents", "Library", "My Documents"}


def usual_places(home: Path, env: dict) -> list[Found]:
    """Where mail clients keep mail in *home* (Thunderbird via profiles.ini, Outlook files,
    maildir and mbox folders)."""
    return (_thunderbird(home, env) + _windows_clients(home, env) + _mac_clients(home)
            + _mail_folders(home, env))


def _thunderbird(home: Path, env: dict) -> list[Found]:
    found: list[Found] = []
    for root in thunderbird_roots(home, env):
        for profile in profiles_from_ini(root, within=home):
            found.append(Found(profile, "thunderbird", f"Thunderbird {root / 'profiles.ini'}"))
        for profile in elsewhere_in_ini(root, home):
            found.append(Found(profile, ELSEWHERE, f"Thunderbird {root / 'profiles.ini'}",
                               note=f"{root / 'profiles.ini'} points outside {home}: not "
                                    "this home's mail; search that folder on its own"))
    return found


def _windows_clients(home: Path, env: dict) -> list[Found]:
    """Outlook's files, Windows Live Mail, Outlook Express identities."""
    found: list[Found] = []
    for place in outlook_places(home, env):
        if place.is_dir():
            for item in sorted(place.iterdir()):
                if item.suffix.lower() in (".pst", ".ost") and item.is_file():
                    found.append(_outlook(item, f"Outlook folder {place}"))
    for place in live_mail_places(home, env):
        if place.is_dir():
            found.append(Found(place, "windows-live-mail", "Windows Live Mail"))
    for place in outlook_express_places(home, env):
        if place.is_dir():
            found.append(Found(place, "outlook-express", "Outlook Express identity"))
    return found


def _mac_clients(home: Path) -> list[Found]:
    """Apple Mail, and Outlook for Mac's database (named, with how to export it)."""
    found: list[Found] = []
    apple = home / "Library" / "Mail"
    if apple.is_dir() and any(apple.glob("V[0-9]*")):
        found.append(Found(apple, APPLE_MAIL, "Apple Mail"))
    outlook_mac = home / "Library" / "Group Containers" / "UBF8T346G9.Office" / "Outlook"
    if outlook_mac.is_dir():
        found.append(Found(outlook_mac, OUTLOOK_MAC, "Outlook for Mac", note=OUTLOOK_MAC_HOW))
    return found


def _mail_folders(home: Path, env: dict) -> list[Found]:
    """KMail's, the usual mail folders, and exports in Documents, Desktop, Downloads."""
    found: list[Found] = []
    for place in kmail_places(home):
        if place.is_dir():
            found += scan(place, how="KMail", depth=0)
    for place in mail_places(home, env):
        if place.exists():
            found += scan(place, how="usual mail folder")
    for place in export_places(home, env):
        if place.is_dir():
            found += [f for f in scan(place, how="exports folder")
                      if f.kind in EXPORT_KINDS]
    return found


EXPORT_KINDS = {"olm", "msg", "takeout", "mbox", "mbox-tree", "pst", "outlook", "eml-tree",
                "apple-mail", "outlook-express"}


def _outlook(path: Path, how: str) -> Found:
    """A .pst is a store when the [pst] extra can read it; an .ost never is."""
    if path.suffix.lower() == ".pst" and pst_readable():
        return Found(path, "pst", how)
    return Found(path, "outlook", how, note=OUTLOOK_HOW)


def pst_readable() -> bool:
    """The [pst] extra (libpff-python) is installed."""
    import importlib.util
    return importlib.util.find_spec("pypff") is not None


def scan(root: Path, how: str = "search", depth: int = 0) -> list[Found]:
    """Stores at or below *root* (a store is not searched inside)."""
    if root.is_file():
        return _file_store(root, how)
    if not root.is_dir() or depth > MAX_DEPTH or root.is_symlink():
        return []
    try:
        if is_profile(root):
            return [Found(root, "thunderbird", how)]
        if is_maildir(root) or (depth == 0 and how in ("usual mail folder", "KMail")
                                and looks_like_maildir_tree(root)):
            return [Found(root, "maildir", how)]  # a home holding ~/Maildir is searched on
        entries = sorted(root.iterdir())
    except OSError:
        return []
    files = [e for e in entries if e.is_file()]
    kind = _folder_store(root, entries, files)
    if kind is not None:
        return [Found(kind[0], kind[1], how)]
    return _stores_in(root, entries, files, how, depth)


def _file_store(path: Path, how: str) -> list[Found]:
    """A file that is a store of its own (.pst, .olm, .msg, a .dbx, an mbox), if it is."""
    from migrate.sources.outlook_express import file_kind
    from migrate.sources.takeout import is_takeout_mbox
    suffix = path.suffix.lower()
    if suffix in (".pst", ".ost"):
        return [_outlook(path, how)]
    if suffix in (".olm", ".msg"):
        return [Found(path, suffix[1:], how)]
    if file_kind(path) in ("messages", "mbx"):
        return [Found(path, "outlook-express", how)]
    if looks_like_mbox(path):
        return [Found(path, "takeout" if is_takeout_mbox(path) else "mbox", how)]
    return []


def _folder_store(root: Path, entries: list[Path], files: list[Path]
                  ) -> tuple[Path, str] | None:
    """(where, kind) when the folder itself is a store its files say (Windows Live Mail,
    Outlook Express, MH, Apple Mail, a folder of .msg or .eml files)."""
    from migrate.sources.outlook_express import file_kind
    names = {e.name.lower() for e in files}
    suffixes = {e.suffix.lower() for e in files}
    if names & {"mail.msmessagestore"}:
        return root, "windows-live-mail"
    if "folders.dbx" in names or any(file_kind(f) in ("messages", "mbx") for f in files
                                     if f.suffix.lower() in (".dbx", ".mbx")):
        return root, "outlook-express"
    if _mh_root(root, entries):
        return root, "mh"
    if ".emlx" in suffixes:
        if root.name == "Messages" and root.parent.name.endswith(".mbox"):
            return root.parent, APPLE_MAIL
        return root, APPLE_MAIL
    if ".msg" in suffixes:
        return root, "msg"
    if ".eml" in suffixes:
        return root, "eml-tree"
    return None


def _stores_in(root: Path, entries: list[Path], files: list[Path], how: str,
               depth: int) -> list[Found]:
    """A tree of mbox files is one store; else each mbox, .pst and .olm here is one, and
    each folder below is searched."""
    from migrate.sources.takeout import is_takeout_mbox
    mboxes = {f: "takeout" if is_takeout_mbox(f) else "mbox" for f in files
              if looks_like_mbox(f)}
    if mboxes and (len(mboxes) > 1 or any(e.suffix == ".sbd" for e in entries)) and \
            "takeout" not in mboxes.values():
        return [Found(root, "mbox-tree", how)]
    found = [Found(f, kind, how) for f, kind in mboxes.items()]
    found += [_outlook(f, how) for f in files if f.suffix.lower() in (".pst", ".ost")]
    found += [Found(f, "olm", how) for f in files if f.suffix.lower() == ".olm"]
    for entry in entries:
        if entry.is_dir() and entry.name not in ("cur", "new", "tmp"):
            found += scan(entry, how, depth + 1)
    return found


def _mh_root(root: Path, entries: list[Path]) -> bool:
    """An MH tree: state files of nmh, Sylpheed or Claws here or in a folder just below."""
    from migrate.sources.mh import MARKERS
    if any(e.name in MARKERS for e in entries):
        return True
    for entry in entries:
        if entry.is_dir():
            try:
                if any((entry / m).is_file() for m in MARKERS):
                    return True
            except OSError:
                continue
    return False


def _unique(found: list[Found]) -> list[Found]:
    """Each store once, and never a folder inside another store of its kind (KMail's
    local-mail and its inbox maildir: the outer one reads both; a .pst inside an mbox
    tree stays a store of its own)."""
    seen, out = set(), []
    for f in found:
        key = f.path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    stores = {(f.path.resolve(), f.kind) for f in out if f.kind not in NAMED_ONLY}
    return [f for f in out if f.kind in NAMED_ONLY or
            not any((parent, f.kind) in stores for parent in f.path.resolve().parents)]


def measure(found: Found) -> Found:
    """Fill in folders, messages and size by reading the store once (read-only)."""
    if found.kind in NAMED_ONLY:
        return found
    if found.kind == "outlook":
        found.size = found.path.stat().st_size
        return found
    from migrate.plan import build_plan
    from migrate.sources import open_store
    try:
        store = open_store(found.path, found.kind)
        plan = build_plan([store])
    except Exception as e:  # noqa: BLE001 - report the store, keep discovering
        found.note = f"could not be read: {e}"
        if found.kind == "pst":
            found.kind, found.note = "outlook", f"{found.note}. {OUTLOOK_HOW}"
        return found
    found.folders = len(plan.folders)
    found.messages = sum(len(f.messages) for f in plan.folders)
    found.size = sum(f.bytes_for() for f in plan.folders)
    plan.close()
    return found


def jobs_skeleton(found: list[Found], machine: str) -> str:
    """A jobs file to edit: one job per person with all their stores (runs into one
    account must not overlap: docs/msp-runbook.md), Outlook files the [pst] extra
    cannot read and profiles outside the searched folder as comments. Every name is
    written as a TOML string (``toml_string``) or, in a comment, on one line
    (``shown``): a file name can never add a key."""
    lines = [f"# Made by 'mailmigrate discover' on {shown(machine)}. Fill in host and user, "
             "then check", "# it with 'mailmigrate jobs check THIS-FILE'. Passwords: "
             "'mailmigrate credentials set'.", "", "[defaults]",
             'host = "imap.example.net"  # CHANGE: the IMAP server', '# tls = "ssl"',
             '# stop_at = "06:30"', ""]
    people: dict[str, list[Found]] = {}
    for f in found:
        if f.kind == "outlook":
            lines += [f"# Outlook file {shown(f.path)}: {OUTLOOK_HOW}", ""]
        elif f.kind == ELSEWHERE:
            lines += [f"# Thunderbird profile {shown(f.path)}: {shown(f.note)}", ""]
        elif f.kind == OUTLOOK_MAC:
            lines += [f"# Outlook for Mac {shown(f.path)}: {shown(f.note)}", ""]
        elif not _writable(str(f.path)):
            lines += [f"# {f.kind} {shown(f.path)}: its name is not valid text, so no jobs file "
                      "can hold it; rename it (or give its folder), then discover again", ""]
        else:
            people.setdefault(f.owner or "", []).append(f)
    names: set[str] = set()
    for owner, stores in people.items():
        only = stores[0] if len(stores) == 1 else None
        parts = [owner] if owner else []
        if only is not None:
            parts.append(only.kind)
            stem = only.path.stem if only.path.is_file() else only.path.name
            if stem.lower() not in {p.lower() for p in parts if p}:
                parts.append(stem)
        label = "-".join(p for p in parts if p) or "mail"
        base = "".join(c if c.isascii() and c.isalnum() else "-" for c in label.lower())
        base = "-".join(filter(None, base.split("-")))[:40] or "mail"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        who = f" of {shown(owner)}" if owner else ""
        lines.append(f"[jobs.{name}]  # {len(stores)} store(s){who}: one account, one job")
        for f in stores:
            count = f" ({f.messages} messages)" if f.messages is not None else ""
            lines.append(f"#   {f.kind}{count}, found by {shown(f.how_found)}")
        lines += ["sources = [" + ", ".join(toml_string(str(f.path)) for f in stores) + "]",
                  'user = "CHANGE-ME@example.net"', 'password = "keyring"', ""]
    return "\n".join(lines)


def _writable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # undecodable bytes of a file name
        return False


def toml_string(text: str) -> str:
    """*text* as a TOML basic string: backslash, quote and every control character
    escaped (TOML 1.0 section "String"), so it parses back to exactly *text*."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'
