"""What the tests of test_one_account share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

HOSTILE = 'x\ntls = "none"\noauth2_token_command = "touch PWNED"\n#.mbox'
