"""Issue 35: what differs on Windows and macOS, tested here where it can be (the
parts that need the real systems run in .github/workflows/platforms.yml and are
listed in docs/platforms.md)."""

from __future__ import annotations

import errno
import os
import signal

import pytest

from migrate.errors import BackupError, SourceError


def sharing_violation(path):
    e = PermissionError(errno.EACCES, "The process cannot access the file because it is "
                        "being used by another process", str(path))
    e.winerror = 32
    return e


def test_a_pst_outlook_holds_open_says_close_outlook(tmp_path, monkeypatch):
    import builtins

    from migrate.sources import open_store
    pst = tmp_path / "Outlook.pst"
    pst.write_bytes(b"!BDN" + b"\0" * 600)
    real = builtins.open

    def held(path, *args, **kwargs):
        if str(path) == str(pst):
            raise sharing_violation(path)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", held)
    with pytest.raises(SourceError, match="open in another program.*close that program"):
        open_store(pst)


def test_a_source_held_open_while_backed_up_says_close_it(tmp_path, monkeypatch):
    from migrate import backup
    from migrate.sources import open_store
    from tests.builders import message, write_mbox
    src = write_mbox(tmp_path / "src" / "Inbox", [message("a")])
    store = open_store(tmp_path / "src")

    def held(tar, path, *args):
        raise sharing_violation(path)
    monkeypatch.setattr(backup, "_add_file", held)
    with pytest.raises(BackupError, match=f"{src}.*open in another program"):
        backup.create_backup([store], tmp_path / "bk")
    assert list((tmp_path / "bk").iterdir()) == []


@pytest.mark.parametrize("command, words", [
    (r'"C:\Program Files\Tok\get-token.exe" --tenant contoso', [
        r"C:\Program Files\Tok\get-token.exe", "--tenant", "contoso"]),
    (r'C:\tools\tok.exe "--scope=a b"', [r"C:\tools\tok.exe", "--scope=a b"]),
    (r'py C:\t\get.py ""', ["py", r"C:\t\get.py", ""]),
])
def test_a_token_command_splits_as_windows_splits_it(command, words):
    from migrate.credentials import command_words
    assert command_words(command, windows=True) == words


def test_jobs_ask_a_job_to_stop_with_ctrl_break_on_windows():
    from migrate.jobs import stop_signal
    assert stop_signal(windows=False) == signal.SIGTERM
    assert stop_signal(windows=True) == getattr(signal, "CTRL_BREAK_EVENT", 1)


def test_a_process_is_alive_without_being_signalled():
    from migrate.workers import is_alive
    assert is_alive(os.getpid()) and not is_alive(0) and not is_alive(-1)
    assert not is_alive(2 ** 22 + 12345)  # beyond pid_max: no such process


def test_decomposed_folder_names_from_a_mac_map_as_composed_ones():
    """HFS+ gives "Éléments envoyés" decomposed (NFD): it is Sent, and a folder named the
    same on the server (composed) is that folder, not a look-alike beside it."""
    import unicodedata

    from migrate.mapping import MappingRules, ServerLayout, map_folder
    nfd = unicodedata.normalize("NFD", "Éléments envoyés")
    assert nfd != "Éléments envoyés"
    layout = ServerLayout(special_use={"\\Sent": "Sent"})
    assert map_folder((nfd,), layout).target == "Sent"
    other = unicodedata.normalize("NFD", "Réunions")
    assert map_folder((other, "Été"), layout).target == "Réunions/Été"
    rules = MappingRules.parse([unicodedata.normalize("NFD", "Réunions") + "=Meetings"], None)
    assert map_folder(("Réunions",), layout, rules).target == "Meetings"


# -- the same results under every start method and in a simulated Windows process ----

import json  # noqa: E402
import sys  # noqa: E402
import unicodedata  # noqa: E402
from pathlib import Path  # noqa: E402

SIMWIN = Path(__file__).resolve().parent / "simwin"
MODES = {
    "fork": {"MAILMIGRATE_START_METHOD": "fork"},
    "forkserver": {"MAILMIGRATE_START_METHOD": "forkserver"},
    "spawn": {"MAILMIGRATE_START_METHOD": "spawn"},
    "windows": {"MAILMIGRATE_START_METHOD": "spawn", "PYTHONIOENCODING": "cp1252",
                "PYTHONPATH": str(SIMWIN)},
}
NAMES = ["Входящие", "送信済み", unicodedata.normalize("NFD", "Éléments envoyés"), "Ordinär"]


def intl_tree(root: Path) -> Path:
    """Folders of 1-5 MB (read by the plan's workers) with Cyrillic, CJK and NFD names."""
    from tests.builders import message, write_mbox
    body = ("Привет, 世界 " * 6 + "\n") * 600
    for n, name in enumerate(NAMES):
        write_mbox(root / name, [message(f"{name} {i}", body=body) for i in range(8 + 4 * n)])
    return root


def summary(report: Path) -> list:
    doc = json.loads((report / "plan.json").read_text(encoding="utf-8"))
    return sorted((f["folder"], f["target"], f["messages"], f["bytes"]) for f in doc["folders"])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return intl_tree(tmp_path_factory.mktemp("intl") / "Local Folders")


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


@pytest.mark.parametrize("mode", ["fork", "spawn", "windows"])
def test_run_and_verify_of_the_same_tree_in_each_mode(tmp_path, tree, account, mm, mode):
    env = MODES[mode]
    run = mm("run", tree, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
             tmp_path / "st.sqlite", "--yes", account=account, env=env)
    assert run.code == 0, run.err[-3000:]
    check = mm("verify", tree, *account.cli_args(), account=account, env=env)
    assert check.code == 0 and "Traceback" not in check.err, check.out + check.err
    boxes = account.read_back()
    assert len(boxes["Sent"]) == 16 and len(boxes["Входящие"]) == 8


def test_jobs_and_discover_in_a_simulated_windows_process(tmp_path, tree, account, mm):
    env = MODES["windows"]
    found = mm("discover", tree.parent, "--write-jobs", tmp_path / "jobs.toml", env=env)
    assert found.code == 0 and "Traceback" not in found.err, found.err
    text = (tmp_path / "jobs.toml").read_text(encoding="utf-8")
    text = text.replace('host = "imap.example.net"  # CHANGE: the IMAP server',
                        f'host = "127.0.0.1"\nport = {account.server.imaps_port}\n'
                        f"ca_file = '{account.server.ca_file}'")
    text = text.replace('"CHANGE-ME@example.net"', f'"{account.user}"').replace(
        'password = "keyring"', 'password = "env:MM_TEST_PASSWORD"')
    (tmp_path / "jobs.toml").write_text(text, encoding="utf-8")
    plan = mm("jobs", "plan", tmp_path / "jobs.toml", env=env, account=account)
    assert plan.code == 0, plan.out + plan.err
    pages = list((tmp_path / "work").glob("*/plan/plan.html"))
    assert pages and "送信済み" in pages[0].read_text(encoding="utf-8")


def test_kill_9_leaves_no_process_under_any_start_method(tmp_path, account):
    """kill -9 of a run while its plan's workers read: its workers, fork server and
    resource tracker all end, whichever way they were started."""
    import subprocess
    import time

    from tests.conftest import ROOT
    from tests.test_parallel_plan import _alive, _busy_tree, descendants, plan_workers
    root = _busy_tree(tmp_path / "busy", folders=120)  # long enough to be caught at it
    for mode in ("fork", "forkserver", "spawn"):
        args = ["run", str(root), *account.cli_args(), "--backup-dir", str(tmp_path / mode),
                "--state", str(tmp_path / f"{mode}.sqlite"), "--yes"]
        proc = subprocess.Popen([sys.executable, "-m", "migrate", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True,
                                env=dict(os.environ, MM_TEST_PASSWORD=account.password,
                                         XDG_DATA_HOME=str(tmp_path / "xdg"), **MODES[mode]))
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline and not seen and proc.poll() is None:
            if plan_workers(proc.pid) or (mode == "fork" and descendants(proc.pid)):
                time.sleep(0.05)
                seen = descendants(proc.pid)
            time.sleep(0.002)
        assert seen, mode
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in seen):
            time.sleep(0.05)
        assert not any(_alive(p) for p in seen), (mode, "a process outlived the plan")


def test_a_folder_inside_a_source_is_found_whatever_the_case_of_its_name(tmp_path,
                                                                         monkeypatch):
    """On a case-insensitive file system "Mail/Backup" is inside "mail", and the system's
    realpath (macOS) keeps the case as typed. Simulated: a second name for the store's
    folder (a link) that the name check does not resolve; the identity check finds it."""
    from migrate.sources import base
    store = tmp_path / "mail"
    store.mkdir()
    (tmp_path / "Mail").symlink_to(store)
    monkeypatch.setattr(base, "_real", lambda p: Path(os.path.abspath(p)))
    assert base.path_inside([store], tmp_path / "Mail" / "Backup" / "state.sqlite") == store
    assert base.path_inside([store], tmp_path / "elsewhere" / "state.sqlite") is None


def test_library_with_apple_mail_is_not_a_thunderbird_profile(tmp_path):
    from migrate.sources.thunderbird import is_profile
    library = tmp_path / "Library"
    (library / "Mail" / "V10" / "MailData").mkdir(parents=True)
    assert not is_profile(library)
    (library / "Thunderbird" / "Profiles" / "x.default" / "Mail" / "Local Folders").mkdir(
        parents=True)
    assert is_profile(library / "Thunderbird" / "Profiles" / "x.default")


@pytest.mark.parametrize("path, uri", [
    ("/home/ann/.local/share/mailmigrate/a@b.sqlite",
     "file:/home/ann/.local/share/mailmigrate/a%40b.sqlite"),
    ("/tmp/with space/#x?.sqlite", "file:/tmp/with%20space/%23x%3F.sqlite"),
])
def test_state_uris_on_posix(path, uri):
    from migrate.state import sqlite_uri
    assert sqlite_uri(Path(path)) == uri


def test_state_uris_for_windows_drives_and_shares():
    from pathlib import PureWindowsPath

    from migrate.state import sqlite_uri
    assert sqlite_uri(PureWindowsPath(r"C:\Users\ann\AppData\Local\mailmigrate\a.sqlite")) == \
        "file:///C:/Users/ann/AppData/Local/mailmigrate/a.sqlite"
    assert sqlite_uri(PureWindowsPath(r"\\nas\msp\clients\acme\state.sqlite")) == \
        "file:////nas/msp/clients/acme/state.sqlite"


def test_a_state_opened_read_only_by_its_uri(tmp_path, mm):
    """plan and status open the state read-only through its URI: a path with spaces,
    '#' and '?' works."""
    from migrate.state import State
    path = tmp_path / "a dir #1?" / "state.sqlite"
    State(path).close()
    State(path, readonly=True).close()


@pytest.mark.parametrize("name, safe", [("CON", "_CON"), ("aux.txt", "_aux.txt"),
                                        ("Sent.", "Sent"), ("Taxes: 2020", "Taxes_ 2020"),
                                        ("com1", "_com1"), ("...", "_")])
def test_export_folder_names_are_files_windows_can_hold(name, safe):
    from migrate.verify import _file_safe
    assert _file_safe(name) == safe


def test_discover_finds_mail_where_windows_and_macos_keep_it(tmp_path, mm):
    """Outlook files in a Documents folder OneDrive moved (and localised), Windows Live
    Mail's store, Apple Mail's, and a Thunderbird
    account whose folder prefs.js keeps outside the profile."""
    from tests.builders import message, write_mbox
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
    from tests.builders import message, write_mbox
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
