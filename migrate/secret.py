"""A password or token that never shows itself."""

from __future__ import annotations

from migrate import logs


class Secret:
    """A password that never shows itself in repr, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        logs.register_secret(value)  # redacted from every log line

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__
