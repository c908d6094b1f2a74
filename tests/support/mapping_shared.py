"""What the tests of test_mapping share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations


def run(mm, account, tmp_path, src, *extra):
    r = mm("run", src, *account.cli_args(), "--backup-dir", tmp_path / "bk",
           "--state", tmp_path / "state.sqlite", "--yes", *extra, account=account)
    assert r.code == 0, r.err + r.out
    return r
