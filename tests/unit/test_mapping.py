"""Folder mapping on the real server: user rules, --into, case merges, non-ASCII names: the
unit tests (tests/server/test_mapping.py has the rest, and says what they prove)."""

from __future__ import annotations

from migrate.mapping import MappingRules, ServerLayout, map_folder


def test_longest_rule_wins_and_children_follow():
    rules = MappingRules.parse(["A=X", "A/B=Y"])
    layout = ServerLayout(delimiter=".")
    assert map_folder(("A", "B", "C"), layout, rules).target == "Y.C"
    assert map_folder(("A", "D"), layout, rules).target == "X.D"
    assert map_folder(("Sent Items",), layout).target == "Sent"


def test_provider_reserved_names_are_renamed():
    from migrate import providers
    layout = ServerLayout(reserved=providers.detect("outlook.office365.com").reserved)
    mapped = map_folder(("Files", "2019"), layout)
    assert mapped.target == "Files (imported)/2019" and "reserved" in mapped.note
    assert map_folder(("Files",), ServerLayout()).target == "Files"  # elsewhere: as is


def test_gmail_keeps_its_own_hierarchy_and_names_beginning_with_a_caret():
    from migrate import providers
    gmail = providers.by_name("gmail")
    layout = ServerLayout(reserved=gmail.reserved, refused_first=gmail.refused_first,
                          special_use={"\\Sent": "[Gmail]/Sent Mail"})
    assert map_folder(("[Gmail]", "Old"), layout).target == "[Gmail] (imported)/Old"
    odd = map_folder(("^Odd", "^Child"), layout)
    assert odd.target == "_Odd/_Child" and "beginning with '^'" in odd.note
    assert map_folder(("Sent",), layout).target == "[Gmail]/Sent Mail"
