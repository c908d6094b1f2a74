"""Folder mapping on the real server: user rules, --into, case merges, non-ASCII names."""

from __future__ import annotations

import pytest

from tests.support.builders import crlf, message, write_mbox
from tests.support.mapping_shared import run


@pytest.mark.parametrize("variant,expect", [
    ("default", {"Projekte/Überblick", "Проекты", "INBOX"}),
    ("courier", {"INBOX.Projekte.Überblick", "INBOX.Проекты", "INBOX"}),
])
def test_non_ascii_folder_names(tmp_path, make_account, mm, variant, expect):
    account = make_account(variant)
    root = tmp_path / "Local Folders"
    write_mbox(root / "Inbox", [message("in")])
    write_mbox(root / "Projekte.sbd" / "Überblick", [message("ü")])
    write_mbox(root / "Проекты", [message("ru")])
    run(mm, account, tmp_path, root)
    server = account.read_back()
    assert expect <= set(server)
    sent = {"INBOX": message("in")}
    for name in expect:
        assert len(server[name]) == 1, name
        if name in sent:
            assert server[name][0].data == crlf(sent[name])


def test_map_rules_and_into(tmp_path, make_account, mm):
    root = tmp_path / "Local Folders"
    write_mbox(root / "Inbox", [message("in")])
    write_mbox(root / "Sent", [message("sent")])
    write_mbox(root / "Clients.sbd" / "Acme", [message("acme")])
    account = make_account()
    run(mm, account, tmp_path, root, "--map", "Clients=Customers", "--map", "Sent=Old Sent")
    server = account.read_back()
    assert [m.data for m in server["Customers/Acme"]] == [crlf(message("acme"))]
    assert [m.data for m in server["Old Sent"]] == [crlf(message("sent"))]
    assert server["Sent"] == []

    other = make_account()
    run(mm, other, tmp_path / "second", root, "--into", "Imported/Desktop")
    server = other.read_back()
    assert {"Imported/Desktop/Inbox", "Imported/Desktop/Sent",
            "Imported/Desktop/Clients/Acme"} <= set(server)
    assert server["INBOX"] == [] and server["Sent"] == []


def test_folders_differing_only_in_case_are_merged_knowingly(tmp_path, account, mm):
    root = tmp_path / "mail"
    write_mbox(root / "Projects", [message("upper")])
    write_mbox(root / "projects", [message("lower")])
    plan = mm("plan", root)
    assert "differ only in case" in plan.out
    run(mm, account, tmp_path, root)
    server = account.read_back()
    assert sorted(m.data for m in server["Projects"]) == sorted(
        [crlf(message("upper")), crlf(message("lower"))])
    assert "projects" not in server


def test_config_file_rules(tmp_path, account, mm):
    root = tmp_path / "Local Folders"
    write_mbox(root / "Clients.sbd" / "Acme", [message("acme")])
    write_mbox(root / "Inbox", [message("in")])
    cfg = tmp_path / "mailmigrate.toml"
    cfg.write_text('[map]\n"Clients" = "Customers"\n')
    run(mm, account, tmp_path, root, "--config", cfg)
    server = account.read_back()
    assert [m.data for m in server["Customers/Acme"]] == [crlf(message("acme"))]
    assert "Clients/Acme" not in server and "Clients" not in server

    cfg.write_text('intto = "typo"\n')
    r = mm("plan", root, "--config", cfg)
    assert r.code == 2 and "unknown key 'intto'" in r.err


def test_missing_special_folder_is_created_with_its_use(tmp_path, account, mm):
    from tests.support.faults import SpecialUseShim
    root = tmp_path / "Local Folders"
    write_mbox(root / "Archives", [message("old")])  # Dovecot here has no \Archive folder
    write_mbox(root / "Projects", [message("p")])
    shim = SpecialUseShim(account.server.imap_port).start()
    try:
        r = mm("run", root, *account.cli_args("none", port=shim.port), "--backup-dir",
               tmp_path / "bk", "--state", tmp_path / "s.sqlite", "--yes", account=account)
    finally:
        shim.stop()
    assert r.code == 0, r.err
    assert shim.created == [(b'"Archive"', b"\\Archive")] or \
        shim.created == [(b"Archive", b"\\Archive")], shim.created
    assert [m.data for m in account.read_back()["Archive"]] == [crlf(message("old"))]


