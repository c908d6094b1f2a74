"""Where and how to reach the target account (no I/O until ``IMAPTarget.connect``)."""

from __future__ import annotations

import dataclasses
import ssl

from migrate.errors import UsageError
from migrate.secret import Secret

DEFAULT_TIMEOUT = 60.0


@dataclasses.dataclass
class TargetConfig:
    host: str
    user: str
    port: int | None = None
    tls: str = "ssl"  # ssl | starttls | none
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    password: Secret | None = dataclasses.field(default=None, repr=False)
    token_source: object = dataclasses.field(default=None, repr=False)  # () -> Secret (XOAUTH2)
    password_from: str = "the stored password"  # where the password came from, in words
    provider: str | None = None  # --provider: a profile name instead of detection

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "ssl" else 143)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.effective_port}"


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"cannot load CA file {ca_file}: {e}") from e
