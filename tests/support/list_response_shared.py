"""What the tests of test_list_response share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

NAMES = ["Evil_[31mRed", "a]b", "x(y)", "br{ace}", "pct%", "star*", 'quo"te', "back\\slash",
         "café", "日本語", "tab\tname"]
