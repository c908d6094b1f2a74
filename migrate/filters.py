"""Which messages a pass takes: dates, folders, size (staged cutover).

Days before the switch, ``--before 30d`` moves everything older than 30 days
(the pre-stage); on cutover night the same command without filters moves only
what is new or left (the final pass). A message a filter leaves out is "left
for a later pass": counted and named, never skipped or missing. Pure: plan,
run and verify apply the same :class:`Filters`, so they agree on what a pass
selects (docs/msp-runbook.md, staged cutover).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import re

from migrate.errors import UsageError

_AGE = re.compile(r"^(\d+)([hdwmy])$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)b?$", re.I)


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``2024-06-30`` (00:00 UTC), ``2024-06-30T18:00+02:00`` (explicit zone), or an age
    counted back from now: ``12h``, ``30d``, ``2w``, ``6m`` (calendar months), ``2y``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    text = text.strip()
    m = _AGE.match(text.lower())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if unit in "hdw":
            return now - dt.timedelta(hours=n * {"h": 1, "d": 24, "w": 168}[unit])
        months = n * (12 if unit == "y" else 1)
        year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
        day = min(now.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0)
                            else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month])
        return now.replace(year=year, month=month + 1, day=day)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r}: give a date (2024-06-30, or 2024-06-30T18:00+02:00) or "
                         "an age (30d, 6m, 2y)") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def parse_size(text: str) -> int:
    """``500k``, ``10M``, ``1.5G`` or bytes."""
    m = _SIZE.match(str(text).strip())
    if not m:
        raise UsageError(f"{text!r}: give a size such as 500k, 10M or 1G")
    return int(float(m.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[
        m.group(2).lower()])


@dataclasses.dataclass(frozen=True)
class Filters:
    before: dt.datetime | None = None  # messages dated strictly before this
    since: dt.datetime | None = None  # messages dated at or after this
    folders: tuple[str, ...] = ()  # source folder globs to take (children follow)
    exclude: tuple[str, ...] = ()  # source folder globs to leave (children follow)
    max_size: int | None = None  # larger messages are left for a later pass
    text: str = ""  # as given, for reports

    @classmethod
    def from_options(cls, before=None, since=None, folders=(), exclude=(), max_size=None,
                     now: dt.datetime | None = None) -> "Filters":
        parts = [f"--before {before}" if before else "", f"--since {since}" if since else "",
                 *(f"--folder {f}" for f in folders or ()),
                 *(f"--exclude-folder {f}" for f in exclude or ()),
                 f"--max-size {max_size}" if max_size else ""]
        return cls(parse_when(before, now) if before else None,
                   parse_when(since, now) if since else None,
                   tuple(folders or ()), tuple(exclude or ()),
                   parse_size(max_size) if max_size else None,
                   " ".join(p for p in parts if p))

    def __bool__(self) -> bool:
        return bool(self.text)

    def takes_folder(self, name: tuple[str, ...]) -> bool:
        """Folder patterns match the folder's path ("Archive/2019") or any parent's."""
        paths = ["/".join(name[:i]) for i in range(1, len(name) + 1)] or [""]
        if name == ():
            paths = ["", "Inbox"]  # the store root is the Inbox

        def hit(patterns):
            return any(fnmatch.fnmatchcase(p.casefold(), pat.casefold())
                       for p in paths for pat in patterns)
        return (not self.folders or hit(self.folders)) and not hit(self.exclude)

    def leaves(self, when: dt.datetime | None, size: int) -> str | None:
        """Why a message of this folder is left for a later pass, or None."""
        if self.before and when is not None and when >= self.before:
            return f"dated on or after --before {self.before.isoformat()}"
        if self.since and (when is None or when < self.since):
            return f"dated before --since {self.since.isoformat()}" if when else \
                "has no date (--since takes only dated messages)"
        if self.max_size is not None and size > self.max_size:
            return f"larger than --max-size ({size} > {self.max_size} bytes)"
        return None
