"""The client's words in every language: no sentence missing, no placeholder lost."""

from __future__ import annotations

import string

from migrate import words
from migrate.sources.base import SKIP_REASONS


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_sentence_with_the_same_placeholders():
    english = words.TEXT["en"]
    for language in words.LANGUAGES:
        text = words.TEXT[language]
        assert set(text) == set(english), language
        for key, sentence in text.items():
            assert placeholders(sentence) == placeholders(english[key]), (language, key)


def test_every_reason_a_message_stays_behind_is_translated():
    for language in words.LANGUAGES[1:]:
        assert set(SKIP_REASONS) | {"refuse", "failed"} <= set(words.REASONS[language])
    assert words.reason("fr", "deleted", "as in English") == "as in English"
    assert words.say("fr", "subject") == words.say("en", "subject")
