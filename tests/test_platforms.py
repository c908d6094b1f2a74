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
