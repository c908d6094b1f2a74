"""What mailmigrate knows about the big hosted providers, in one table.

A profile says how a provider is recognised (host names, or a capability
such as Gmail's ``X-GM-EXT-1``) and what it changes: the largest message when
the server does not announce APPENDLIMIT, the longest line, the connection
limit, the daily upload budget, folder names it reserves, how to log in, and
known quirks. ``--provider NAME`` (or ``generic``: none of it) overrides the
detection. Each figure's source is in docs/providers.md. Pure data and
lookups: no I/O.
"""

from __future__ import annotations

import dataclasses
import fnmatch

from migrate.errors import UsageError

MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Provider:
    name: str
    title: str
    hosts: tuple[str, ...] = ()  # fnmatch patterns, lower case
    capability: str | None = None  # a capability only this provider announces
    max_message_bytes: int | None = None  # when the server does not announce APPENDLIMIT
    max_line: int | None = None  # characters without CRLF
    max_connections: int | None = None  # per account, at once
    daily_bytes: int | None = None  # upload budget by IMAP, per rolling day
    reserved: frozenset = frozenset()  # mailbox names (case-folded) it will not take
    refused_first: str = ""  # characters a folder name may not begin with
    purges: tuple = ()  # (special use, days): the provider deletes mail kept there that long
    login: str = "the account's password"
    quirks: tuple[str, ...] = ()

    def changes(self) -> list[str]:
        """What this profile changes, for ``plan`` (nothing for ``generic``)."""
        out = []
        if self.max_message_bytes:
            out.append(f"messages over {self.max_message_bytes // MB} MB are refused "
                       "(unless the server announces its own limit)")
        if self.max_line:
            out.append(f"lines over {self.max_line:,} characters are refused")
        if self.max_connections:
            out.append(f"at most {self.max_connections} connections at once")
        if self.daily_bytes:
            out.append(f"about {self.daily_bytes / 1e6:.0f} MB a day: the estimate counts days")
        if self.reserved:
            out.append("reserved folder names are renamed: " + ", ".join(sorted(self.reserved)))
        if self.refused_first:
            out.append(f"names beginning with {' or '.join(self.refused_first)} begin with _")
        return out


GENERIC = Provider("generic", "any standard IMAP server")
# the folders Exchange (Microsoft 365, Outlook.com) makes for non-mail items
EXCHANGE_RESERVED = frozenset({"files", "calendar", "contacts", "tasks", "notes", "journal",
                               "conversation history", "sync issues"})

PROFILES = (
    Provider("gmail", "Gmail / Google Workspace", hosts=("imap.gmail.com", "imap.googlemail.com"),
             capability="X-GM-EXT-1", max_connections=15, daily_bytes=500 * 1000 * 1000,
             reserved=frozenset({"[gmail]", "[google mail]"}), refused_first="^",
             purges=(("\\Trash", 30), ("\\Junk", 30)),
             login="an app password (2-step verification on) or OAuth 2: sign in once with "
                   "'mailmigrate credentials login --provider gmail' (docs/providers.md)",
             quirks=("folders are labels: a message in two folders is one message with two "
                     "labels", "[Gmail] holds the system folders; names cannot end in spaces")),
    Provider("office365", "Microsoft 365 / Exchange Online", hosts=("outlook.office365.com",),
             max_message_bytes=35 * MB, max_line=9_998, max_connections=20,
             reserved=EXCHANGE_RESERVED,
             login="OAuth 2 (basic authentication is off for IMAP): sign in once with "
                   "'mailmigrate credentials login --provider office365' (docs/providers.md)",
             quirks=("throttles with 'Suggested Backoff Time' (waited for exactly)",
                     "BAD for lines over ~10,000 characters, then BYE after ten errors")),
    Provider("outlook", "Outlook.com / Hotmail", hosts=("imap-mail.outlook.com",),
             max_message_bytes=35 * MB, max_line=9_998,
             reserved=EXCHANGE_RESERVED,
             login="OAuth 2: sign in once with 'mailmigrate credentials login --provider "
                   "outlook' (docs/providers.md)"),
    Provider("yahoo", "Yahoo Mail", hosts=("imap.mail.yahoo.com",),
             login="an app password (account security settings)",
             quirks=("messages must end with CRLF (mailmigrate always sends CRLF line ends)",)),
    Provider("icloud", "iCloud Mail", hosts=("imap.mail.me.com",),
             login="an app-specific password (appleid.apple.com)"),
    Provider("fastmail", "Fastmail", hosts=("imap.fastmail.com",),
             login="an app password (Settings, Privacy & Security)"),
    Provider("gmx", "GMX", hosts=("imap.gmx.net", "imap.gmx.com"),
             login="the account's password, with IMAP enabled in the web settings"),
)

NAMES = ("generic",) + tuple(p.name for p in PROFILES)


def purge_warnings(provider: Provider, layout, folders) -> list[str]:
    """A sentence for each folder with mail going where the provider deletes it after
    some days (Gmail: Trash and Spam, 30 days), with the --map that keeps it.

    *folders*: (source folder name, target mailbox, messages to upload)."""
    out = []
    for use, days in provider.purges:
        mailbox = layout.special_use.get(use)
        for name, target, count in folders:
            if mailbox and target == mailbox and count:
                out.append(f"{provider.title} deletes mail in {mailbox} after {days} days: "
                           f"{count} messages of {name} go there; to keep them, add "
                           f"--map '{name}=Old {name}'")
    return out


def by_name(name: str) -> Provider:
    for p in (GENERIC,) + PROFILES:
        if p.name == name.lower():
            return p
    raise UsageError(f"--provider {name}: not a known provider; one of {', '.join(NAMES)}")


def detect(host: str, capabilities=(), override: str | None = None) -> Provider:
    """The profile for *host* (and, once connected, its *capabilities*), or *override*."""
    if override:
        return by_name(override)
    host = host.lower().rstrip(".")
    caps = {c.upper() for c in capabilities}
    for p in PROFILES:
        if any(fnmatch.fnmatchcase(host, pattern) for pattern in p.hosts) or \
                (p.capability and p.capability in caps):
            return p
    return GENERIC
