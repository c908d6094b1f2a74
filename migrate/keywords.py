"""Spell any keyword a store holds as a valid IMAP keyword (an atom, RFC 3501/9051).

Stores hold tags IMAP does not allow: blanks, ``%``, ``*``, brackets, quotes,
non-ASCII letters. A server refuses the whole APPEND for one bad keyword
("Invalid characters in keyword"), so each keyword is mapped first:

* non-ASCII text becomes modified UTF-7 (as in mailbox names, and as
  Thunderbird spells non-ASCII tags): ``Müll`` -> ``M&APw-ll``;
* every other character that may not appear in an atom (``( ) { } SP % * "
  \\ ]`` and controls) becomes ``_``; ``$`` names (``$Forwarded``) are kept;
* a keyword that is left empty, or starts with ``\\`` (a system flag's
  spelling), is dropped.

The mapping is deterministic, so re-runs and verification agree.
"""

from __future__ import annotations

from imapclient import imap_utf7

_ATOM_SPECIALS = set('(){ %*"\\]')


def imap_keyword(keyword: str) -> str | None:
    """*keyword* as a valid IMAP flag-keyword, or None if nothing is left of it."""
    keyword = keyword.strip()
    if not keyword or keyword.startswith("\\"):
        return None
    if not keyword.isascii():
        keyword = imap_utf7.encode(keyword).decode("ascii")
    atom = "".join("_" if c in _ATOM_SPECIALS or ord(c) < 0x20 or ord(c) == 0x7F else c
                   for c in keyword)
    return atom.strip("_") and atom or None
