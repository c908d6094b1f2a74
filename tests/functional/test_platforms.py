"""Issue 35: what differs on Windows and macOS, tested here where it can be (the: the
functional tests (tests/unit/test_platforms.py has the rest, and says what they prove)."""

from __future__ import annotations

# -- the same results under every start method and in a simulated Windows process ----
import json
from pathlib import Path

from tests.support.platforms_shared import (
    MODES,
    summary,
    tree,  # noqa: F401 - a fixture
)


def test_the_plan_is_the_same_under_every_start_method_and_on_windows(tmp_path, tree, mm):
    """fork, forkserver, spawn, and a simulated Windows process (no POSIX signals, spawn,
    output piped in the ANSI code page): the same plan, UTF-8 output, never exit 70."""
    got = {}
    for mode, env in MODES.items():
        r = mm("plan", tree, "--report", tmp_path / mode, env=env)
        assert r.code == 0, (mode, r.err[-3000:])
        assert "Traceback" not in r.err and "Входящие" in r.out and "送信済み" in r.out, mode
        got[mode] = summary(tmp_path / mode)
    assert all(plan == got["fork"] for plan in got.values()), got
    targets = [t for _, t, _, _ in got["fork"]]
    assert "Sent" in targets  # the NFD "Éléments envoyés" is Sent


def test_a_state_opened_read_only_by_its_uri(tmp_path, mm):
    """plan and status open the state read-only through its URI: a path with spaces,
    '#' and '?' works."""
    from migrate.state import State
    path = tmp_path / "a dir #1?" / "state.sqlite"
    State(path).close()
    State(path, readonly=True).close()


def test_discover_finds_mail_where_windows_and_macos_keep_it(tmp_path, mm):
    """Outlook files in a Documents folder OneDrive moved (and localised), Windows Live
    Mail's store, Apple Mail's, and a Thunderbird
    account whose folder prefs.js keeps outside the profile."""
    from tests.support.builders import message, write_mbox
    home = tmp_path / "home"
    onedrive = home / "OneDrive - Contoso" / "Documents" / "Archivos de Outlook"
    onedrive.mkdir(parents=True)
    (onedrive / "old.pst").write_bytes(b"!BDN" + b"\0" * 600)
    wlm = home / "AppData" / "Local" / "Microsoft" / "Windows Live Mail" / "Inbox"
    wlm.mkdir(parents=True)
    (wlm / "a.eml").write_bytes(message("live mail"))
    (home / "Library" / "Mail" / "V10" / "MailData").mkdir(parents=True)
    profile = home / ".thunderbird" / "x.default"
    write_mbox(profile / "Mail" / "Local Folders" / "Inbox", [message("tb")])
    outside = tmp_path / "D" / "Mail" / "pop.example.org"
    write_mbox(outside / "Inbox", [message("outside")])
    write_mbox(outside / "Sent", [message("outside sent")])
    (profile / "prefs.js").write_text(
        'user_pref("mail.server.server2.directory", "%s");\n' % str(outside).replace(
            "\\", "\\\\"), encoding="utf-8")
    (home / ".thunderbird" / "profiles.ini").write_text(
        "[Profile0]\nName=x\nIsRelative=1\nPath=x.default\n")
    r = mm("discover", "--json", env={"HOME": str(home), "USERPROFILE": str(home),
                                      "APPDATA": "", "LOCALAPPDATA": ""})
    assert r.code == 0, r.err
    kinds = {Path(f["path"]).name: (f["kind"], f["found_by"]) for f in json.loads(r.out)}
    assert kinds["old.pst"][0] in ("pst", "outlook")
    assert kinds["Windows Live Mail"] == ("windows-live-mail", "Windows Live Mail"), kinds
    assert kinds["Mail"][0] == "apple-mail"
    assert kinds["pop.example.org"][0] == "mbox-tree" and "prefs.js" in \
        kinds["pop.example.org"][1]
    plan = mm("plan", profile, "--report", tmp_path / "rep")  # the profile names it
    assert plan.code == 0, plan.err
    non_mail = json.loads((tmp_path / "rep" / "plan.json").read_text())["non_mail"]
    assert any("outside this profile" in item["kind"] for item in non_mail), non_mail


def test_a_hostile_prefs_js_names_no_account_and_breaks_nothing(tmp_path, mm):
    """prefs.js is data: a directory with a NUL, one that does not exist, one that is
    the profile itself, a [ProfD] path leading back inside: none is an outside account,
    and the profile plans (no traceback)."""
    from migrate.sources.thunderbird import outside_accounts
    from tests.support.builders import message, write_mbox
    profile = tmp_path / "p.default"
    write_mbox(profile / "Mail" / "Local Folders" / "Inbox", [message("tb")])
    (profile / "prefs.js").write_text(
        'user_pref("mail.server.server1.directory", "/tmp/a\\u0000b");\n'
        'user_pref("mail.server.server2.directory", "/nonexistent/x");\n'
        f'user_pref("mail.server.server3.directory", "{profile}");\n'
        'user_pref("mail.server.server4.directory-rel", "[ProfD]Mail/../Mail/Local Folders");\n'
        'user_pref("mail.server.server5.directory", "' + "x" * 5000 + '");\n',
        encoding="utf-8")
    (profile / "prefs.js").write_bytes((profile / "prefs.js").read_bytes().replace(
        b"\\u0000", b"\x00"))
    assert outside_accounts(profile) == []
    r = mm("plan", profile)
    assert r.code == 0 and "Traceback" not in r.err, r.err
