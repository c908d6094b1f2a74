"""Issue 35: what differs on Windows and macOS, tested here where it can be (the
parts that need the real systems run in .github/workflows/platforms.yml and are
listed in docs/platforms.md)."""

from __future__ import annotations

import os
import signal

import pytest

from migrate.errors import BackupError, SourceError


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
    from tests.support.builders import message, write_mbox
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

from pathlib import Path  # noqa: E402

from tests.support.platforms_shared import sharing_violation  # noqa: E402


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


@pytest.mark.parametrize("name, safe", [("CON", "_CON"), ("aux.txt", "_aux.txt"),
                                        ("Sent.", "Sent"), ("Taxes: 2020", "Taxes_ 2020"),
                                        ("com1", "_com1"), ("...", "_")])
def test_export_folder_names_are_files_windows_can_hold(name, safe):
    from migrate.verify import _file_safe
    assert _file_safe(name) == safe


