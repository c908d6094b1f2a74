"""Mail still waiting on the old POP server: ``pop3://user@host[:port]``.

The leftovers go to INBOX. What was taken is remembered by UIDL in a local
cache (one file per message plus ``uidl.json``), written before anything is
uploaded, so the usual backup, plan and exactly-once machinery applies to the
cache as to any other store, and a second run downloads only new UIDLs.
Nothing is ever deleted from the POP server (no DELE is sent).

URL forms (TLS by default):

* ``pop3s://user@host[:995]``: TLS from the start;
* ``pop3://user@host[:110]``: STARTTLS (STLS) is required;
* add ``?tls=none`` for plaintext (explicit only), ``?ca_file=PATH`` to
  trust a private CA.

The password comes from ``--pop-password-env``/``--pop-password-file`` or
the OS keyring entry for (host, user), like the IMAP password.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import poplib
import socket
import ssl
import urllib.parse
from pathlib import Path
from typing import Callable, Iterator

from migrate import headers
from migrate.errors import AuthFailed, ConnectionFailed, UsageError
from migrate.secret import Secret
from migrate.sources.base import Folder, SourceMessage, Store

TIMEOUT = 60.0
LINE_LIMIT = 64 * 1024 * 1024  # poplib's own is 2,048 bytes; real mail has longer lines


class _LongLines:
    """A POP3 connection that reads lines up to LINE_LIMIT, for itself alone (poplib's
    limit is a module global: changing it changed it for the whole process)."""

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(LINE_LIMIT + 1)  # type: ignore[attr-defined]
        if len(line) > LINE_LIMIT:
            raise poplib.error_proto("-ERR a line longer than mailmigrate reads")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        if line.endswith(b"\r\n"):  # lines end in LF: CRLF, LF or CR...LF
            return line[:-2], len(line)
        if line.startswith(b"\r"):
            return line[1:-1], len(line)
        return line[:-1], len(line)


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3_SSL(_LongLines, poplib.POP3_SSL):
    pass


def is_pop_url(text: str) -> bool:
    return text.lower().startswith(("pop3://", "pop3s://"))


class PopAddress:
    def __init__(self, url: str):
        if any(c in urllib.parse.unquote(url) for c in "\r\n\0"):
            raise UsageError("a POP source contains a line break or NUL; remove it")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("pop3", "pop3s") or not parts.hostname:
            raise UsageError(f"{url!r}: write a POP source as pop3://USER@HOST[:PORT] or "
                             "pop3s://USER@HOST[:PORT]")
        if parts.password is not None:
            raise UsageError("a POP source must not contain a password; use the keyring "
                             "('mailmigrate credentials set') or --pop-password-env")
        if not parts.username:
            raise UsageError(f"{url!r}: the user is missing: pop3://USER@HOST")
        query = dict(urllib.parse.parse_qsl(parts.query))
        unknown = set(query) - {"tls", "ca_file"}
        if unknown:
            raise UsageError(f"{url!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                             "known: tls, ca_file")
        self.user = urllib.parse.unquote(parts.username)
        self.host = parts.hostname
        implicit = parts.scheme.lower() == "pop3s"
        self.tls = query.get("tls", "ssl" if implicit else "starttls")
        if self.tls not in ("ssl", "starttls", "none"):
            raise UsageError(f"{url!r}: tls must be ssl, starttls or none")
        self.port = parts.port or (995 if self.tls == "ssl" else 110)
        self.ca_file = query.get("ca_file")
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise UsageError(f"{self.label}: the CA file {self.ca_file} does not exist")
        if self.tls == "none":
            logging.getLogger("migrate").warning(
                "%s with tls=none: the POP password and mail cross the network unencrypted",
                self.label)

    @property
    def label(self) -> str:
        return f"pop3://{self.user}@{self.host}:{self.port}"


def default_cache_root() -> Path:
    from migrate.state import default_state_path
    return default_state_path("pop3", "cache").parent / "pop3"


class Pop3Folder(Folder):
    store: Pop3Store

    def messages(self) -> Iterator[SourceMessage]:
        yield from self.store.iter_messages(self)


class Pop3Store(Store):
    """The leftovers of one POP account; ``path`` is its local cache directory."""

    kind = "pop3"
    files_fixed = False  # reading downloads the messages that the backup then holds

    def __init__(self, url: str, password: Callable[[], Secret] | None = None,
                 cache_root: Path | None = None, take: bool = True):
        self.address = PopAddress(url)
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_"
                       for c in f"{self.address.user}@{self.address.host}")  # any port
        super().__init__((cache_root or default_cache_root()) / safe)
        self.password = password
        self.take = take  # False (plan, verify): read, but write no cache
        self.url = url
        self._synced = False

    # -- the cache -----------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.path / "uidl.json"

    def _index(self) -> dict[str, str]:
        if not self.index_path.exists():
            return {}
        try:
            index = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(f"the POP download cache index {self.index_path} is damaged ({e}); "
                             "move the folder aside and run again (mail is re-downloaded, "
                             "never deleted on the server)") from None
        if not isinstance(index, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and "/" not in v and v.endswith(".eml")
                for k, v in index.items()):
            raise UsageError(f"the POP download cache index {self.index_path} is damaged; move "
                             "the folder aside and run again")
        return index

    def _save_index(self, index: dict[str, str]) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.index_path)

    @staticmethod
    def _file_name(uidl: str) -> str:
        return hashlib.sha256(uidl.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".eml"

    def _write_message(self, name: str, data: bytes) -> None:
        """Durably, before the UIDL is recorded: a crash never leaves a half message."""
        final = self.path / "messages" / name
        tmp = final.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)

    # -- the POP server --------------------------------------------------------

    def _connect(self) -> poplib.POP3:
        a = self.address
        context = ssl.create_default_context(cafile=a.ca_file)
        pop: poplib.POP3
        try:
            if a.tls == "ssl":
                pop = _POP3_SSL(a.host, a.port, context=context, timeout=TIMEOUT)
            else:
                pop = _POP3(a.host, a.port, timeout=TIMEOUT)
                if a.tls == "starttls":
                    pop.stls(context)
        except ssl.SSLCertVerificationError as e:
            raise ConnectionFailed(f"the certificate of POP server {a.host}:{a.port} is not "
                                   f"trusted ({e.verify_message}); add ?ca_file=PATH for a "
                                   "private CA") from None
        except (OSError, poplib.error_proto) as e:
            raise ConnectionFailed(f"cannot reach the POP server {a.host}:{a.port} "
                                   f"({type(e).__name__}: {e}); check the address, or the "
                                   "tls option (?tls=ssl|starttls|none)") from None
        secret = self.password() if self.password else None
        if secret is None:
            pop.close()
            raise UsageError(f"no password for the POP account {a.user} at {a.host}: "
                             f"'mailmigrate credentials set --host {a.host} --user {a.user}', "
                             "or --pop-password-env VAR")
        try:
            pop.user(a.user)
            pop.pass_(secret.reveal())
        except poplib.error_proto:
            pop.close()
            raise AuthFailed(f"the POP server {a.host} refused the login for {a.user!r}") \
                from None
        return pop

    def _uidls(self, pop: poplib.POP3) -> list[tuple[int, str]]:
        _, lines, _ = pop.uidl()
        out = []
        for line in lines:
            number, uidl = line.decode("utf-8", "surrogateescape").split(" ", 1)
            out.append((int(number), uidl.strip()))
        return out

    @staticmethod
    def _retr(pop: poplib.POP3, number: int) -> bytes:
        _, lines, _ = pop.retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def sync(self) -> tuple[int, int]:
        """Take the leftovers not taken yet into the cache: (new, total on server)."""
        self._synced = True
        pop = self._connect()
        try:
            listing = self._uidls(pop)
            (self.path / "messages").mkdir(parents=True, exist_ok=True)
            os.chmod(self.path, 0o700)
            index = self._index()
            new = 0
            for number, uidl in listing:
                if uidl in index:
                    continue
                name = self._file_name(uidl)
                self._write_message(name, self._retr(pop, number))
                index[uidl] = name
                self._save_index(index)
                new += 1
            return new, len(listing)
        except (OSError, socket.timeout, poplib.error_proto) as e:
            raise ConnectionFailed(f"the POP server {self.address.host} failed during the "
                                   f"download ({type(e).__name__}); run again: what was taken "
                                   "is kept") from None
        finally:
            try:
                pop.quit()  # no DELE was sent: nothing is removed
            except (OSError, poplib.error_proto):
                pass

    # -- Store -----------------------------------------------------------------

    def folders(self) -> list[Folder]:
        return [Pop3Folder(self, (), self.path)]

    def iter_messages(self, folder: Folder) -> Iterator[SourceMessage]:
        if self.take:
            if not self._synced:
                self.sync()
            index = self._index()
            for uidl, name in sorted(index.items(), key=lambda kv: kv[1]):
                yield self._message(uidl, (self.path / "messages" / name).read_bytes())
            return
        index = self._index()  # read-only: cached copies from disk, the rest from the server
        pop = self._connect()
        try:
            for number, uidl in self._uidls(pop):
                if uidl not in index:
                    yield self._message(uidl, self._retr(pop, number))
        finally:
            try:
                pop.quit()
            except (OSError, poplib.error_proto):
                pass
        for uidl, name in sorted(index.items(), key=lambda kv: kv[1]):
            yield self._message(uidl, (self.path / "messages" / name).read_bytes())

    def _message(self, uidl: str, data: bytes) -> SourceMessage:
        return SourceMessage(key=f"uidl:{uidl}", location=f"{self.address.label} UIDL {uidl}",
                             data=data, internaldate=headers.header_date(data))

    def files(self) -> list[Path]:
        if self.take and not self._synced:
            self.sync()
        if not self.path.exists():
            return []
        return sorted(p for p in self.path.rglob("*") if p.is_file()
                      and p.suffix != ".part" and p.name != "uidl.json.tmp")
