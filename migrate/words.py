"""The words a client reads (the message put into their Inbox, their printable page),
in their language: ``--language en`` (default) or ``de``.

A key missing from a language falls back to English, so a new sentence never breaks
a translation; ``tests/unit/test_words.py`` checks that every language has every key and
the same {placeholders}.
"""

from __future__ import annotations

LANGUAGES = ("en", "de")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Your mail has been moved",
        "subject_update": "Your mail has been moved: update",
        "moved_to": "Your mail has been moved to this account ({user}).",
        "update_since": "Since the last message about your move, {more} more messages "
                        "have moved.",
        "moved": "Moved: {moved} messages, all runs together; {there} were already here.",
        "per_folder": "Per folder:",
        "from_sender": "from {sender}", "at": "at",
        "of": "{done} of {all}",
        "not_moved": "Not moved, and why:",
        "and_more": "... and {more} more (your technician has the full list)",
        "checked_ok": "Checked on {when}: every message that should be here is here.",
        "checked": "Checked on {when}.",
        "page_title": "Your mail move",
        "for": "For {name}",
        "to_account": "New account: {account}",
        "from_sources": "Moved from: {sources}",
        "what_moved": "What moved",
        "what_not": "What did not move, and why",
        "nothing_not": "Every message moved.",
        "backup": "A verified copy of your old mail is kept at: {where}",
        "no_backup": "No backup is recorded yet.",
        "folder": "folder", "messages": "messages", "moved_col": "moved",
        "message": "message", "why": "why", "when": "Result of {when}",
        "missing_none": "Checked afterwards: every message that should be on the server "
                        "is there.",
        "missing_some": "Checked afterwards: {missing} messages are missing; your "
                        "technician will run the move again.",
        "still_to_move": "{left} messages are still to move (a later pass).",
    },
    "de": {
        "subject": "Ihre E-Mails wurden umgezogen",
        "subject_update": "Ihre E-Mails wurden umgezogen: Nachtrag",
        "moved_to": "Ihre E-Mails wurden in dieses Postfach ({user}) umgezogen.",
        "update_since": "Seit der letzten Nachricht zu Ihrem Umzug wurden {more} weitere "
                        "Nachrichten umgezogen.",
        "moved": "Umgezogen: {moved} Nachrichten (alle Durchläufe zusammen); {there} waren "
                 "schon hier.",
        "per_folder": "Je Ordner:",
        "from_sender": "von {sender}", "at": "auf",
        "of": "{done} von {all}",
        "not_moved": "Nicht umgezogen, und warum:",
        "and_more": "... und {more} weitere (die vollständige Liste hat Ihr Techniker)",
        "checked_ok": "Geprüft am {when}: Jede Nachricht, die hier sein soll, ist hier.",
        "checked": "Geprüft am {when}.",
        "page_title": "Ihr E-Mail-Umzug",
        "for": "Für {name}",
        "to_account": "Neues Postfach: {account}",
        "from_sources": "Umgezogen aus: {sources}",
        "what_moved": "Was umgezogen wurde",
        "what_not": "Was nicht umgezogen wurde, und warum",
        "nothing_not": "Alle Nachrichten wurden umgezogen.",
        "backup": "Eine geprüfte Kopie Ihrer alten E-Mails liegt unter: {where}",
        "no_backup": "Noch keine Sicherung verzeichnet.",
        "folder": "Ordner", "messages": "Nachrichten", "moved_col": "umgezogen",
        "message": "Nachricht", "why": "warum", "when": "Ergebnis vom {when}",
        "missing_none": "Danach geprüft: Jede Nachricht, die auf dem Server sein soll, ist "
                        "dort.",
        "missing_some": "Danach geprüft: {missing} Nachrichten fehlen; Ihr Techniker "
                        "startet den Umzug erneut.",
        "still_to_move": "{left} Nachrichten werden noch umgezogen (ein späterer "
                         "Durchlauf).",
    },
}

# why a message stayed behind (plan.SKIP_REASONS' keys and the actions), per language
REASONS: dict[str, dict[str, str]] = {
    "de": {
        "deleted": "im alten Programm gelöscht, aber nicht komprimiert (bleibt absichtlich "
                   "zurück)",
        "trashed": "zum Löschen markiert (bleibt absichtlich zurück)",
        "unreadable": "nicht als E-Mail lesbar",
        "empty": "leere Nachricht",
        "report": "eine Zustell- oder Lesebestätigung",
        "refuse": "das neue Postfach würde sie ablehnen (z. B. zu groß)",
        "failed": "vom neuen Postfach abgelehnt",
        "duplicate": "doppelt im selben Ordner: einmal umgezogen",
    },
}


def say(language: str, key: str, **values) -> str:
    """The sentence *key* in *language* (English where it has none)."""
    text = TEXT.get(language, {}).get(key) or TEXT["en"][key]
    return text.format(**values)


def reason(language: str, code: str | None, english: str) -> str:
    """Why a message stayed behind, in *language* where a translation exists."""
    return REASONS.get(language, {}).get(code or "", english)
