"""What the tests of test_limits share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations


def run(mm, account, src, tmp_path):
    return mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / "state.sqlite", "--yes", account=account)
