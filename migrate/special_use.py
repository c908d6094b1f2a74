"""The RFC 6154 special uses (Sent, Drafts, Trash, Junk, Archive) that well-known folder
names suggest, in the languages mail clients speak: a vocabulary the readers (an mbox
file named "Sent") and the mapping share."""

from __future__ import annotations

# Well-known top-level folder names (lowercase) -> RFC 6154 special use.
SPECIAL_NAMES = {
    "\\Sent": ["sent", "sent items", "sent messages", "sent mail", "outbox sent",
               "gesendet", "gesendete elemente", "gesendete objekte", "éléments envoyés",
               "messages envoyés", "envoyés", "elementos enviados", "enviados",
               "posta inviata", "inviati", "verzonden items", "skickat", "skickade objekt"],
    "\\Drafts": ["drafts", "draft", "entwürfe", "brouillons", "borradores", "bozze", "concepten",
                 "utkast"],
    "\\Trash": ["trash", "deleted items", "deleted messages", "bin", "papierkorb",
                "gelöschte elemente", "gelöschte objekte", "éléments supprimés", "corbeille",
                "elementos eliminados", "papelera", "cestino", "posta eliminata",
                "verwijderde items", "borttaget", "borttagna objekt"],
    "\\Junk": ["junk", "junk e-mail", "junk email", "junk mail", "spam", "bulk mail",
               "junk-e-mail", "spam-verdacht", "courrier indésirable", "correo no deseado",
               "posta indesiderata", "ongewenste e-mail", "skräppost"],
    "\\Archive": ["archive", "archives", "archiv", "archivo", "archivio"],
}
_NAME_TO_USE = {name: use for use, names in SPECIAL_NAMES.items() for name in names}


def special_use_of(name: str) -> str | None:
    """The RFC 6154 use a top-level folder name suggests, e.g. "Sent Items" -> \\Sent."""
    return _NAME_TO_USE.get(" ".join(name.split()).casefold())
