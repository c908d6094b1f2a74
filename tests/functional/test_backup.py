"""Backups: round trip, damage detection, the gate before upload, permissions: the
functional tests (tests/unit/test_backup.py has the rest, and says what they prove)."""

from __future__ import annotations

from migrate import backup
from migrate.errors import ExitCode
from migrate.sources import open_store
from tests.support.backup_shared import _rot, make_store
from tests.support.builders import message, snapshot, write_mbox


def test_plan_shows_the_backup_step(tmp_path, mm):
    src = make_store(tmp_path / "src")
    r = mm("plan", src, "--backup-dir", tmp_path / "bk")
    assert "run will first write and verify" in r.out
    assert mm("backup", src, "--backup-dir", tmp_path / "bk").code == 0
    r = mm("plan", src, "--backup-dir", tmp_path / "bk")
    assert "is verified; run will use it" in r.out


def test_backup_check_re_reads_an_archive_at_any_time(tmp_path, mm):
    src = make_store(tmp_path / "src")
    first = backup.create_backup([open_store(src)], tmp_path / "bk")
    ok = mm("backup", "--check", first.archive)
    assert ok.code == 0 and "re-read whole" in ok.out, ok.err
    _rot(first.archive)
    bad = mm("backup", "--check", first.archive)
    assert bad.code == ExitCode.BACKUP and "damaged" in bad.err and "Traceback" not in bad.err
    assert mm("backup", "--check", first.archive, src).code == ExitCode.USAGE
    assert mm("backup", src).code == ExitCode.USAGE


def test_prune_keeps_the_newest_verified_per_sources_and_what_a_state_uses(tmp_path, mm,
                                                                           monkeypatch):
    """Issue 39: a month of nights leaves an archive per changed night. --prune keeps,
    per set of sources, the newest verified one, any newer (one may be being written),
    and the one a state's last run relied on; the rest go with their sidecars. A set
    never loses its only verified archive; sources are never touched."""
    from migrate import backup_prune
    from migrate.state import State
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # no stranger's states
    bk, a, b = tmp_path / "bk", tmp_path / "a.mbox", tmp_path / "b.mbox"
    write_mbox(b, [message("b")])
    made = []
    for night in range(4):
        write_mbox(a, [message(f"a{i}") for i in range(night + 1)])
        made.append(backup.create_backup([open_store(a)], bk).archive)  # in time order
    only_b = backup.create_backup([open_store(b)], bk).archive  # the only one of its sources
    backup.sidecar(made[3], ".verified").unlink()  # the newest: not verified (yet)
    state = State(tmp_path / "state.sqlite")
    state.record_backup("x" * 64, str(made[0]))  # the night a state still relies on
    state.close()
    before = snapshot(tmp_path / "a.mbox"), snapshot(b)

    listed = mm("backup", "--list", "--backup-dir", bk, "--keep-state", tmp_path / "state.sqlite")
    assert listed.code == 0 and listed.out.count("NOT verified") == 1, listed.out
    assert "(remove)" in listed.out and all(m.name in listed.out for m in made)
    plan = mm("plan", a, "--backup-dir", bk)  # the plan says what prune would free
    assert plan.code == 0 and "1 older archive(s)" in plan.out, plan.out + plan.err
    dry = mm("backup", "--prune", "--dry-run", "--backup-dir", bk,
             "--keep-state", tmp_path / "state.sqlite")
    assert dry.code == 0 and "would remove 1 archive(s)" in dry.out, dry.out
    assert all(m.exists() for m in made)
    done = mm("backup", "--prune", "--backup-dir", bk, "--keep-state", tmp_path / "state.sqlite")
    assert done.code == 0 and "removed 1 archive(s)" in done.out, done.out
    assert [m.exists() for m in made] == [True, False, True, True] and only_b.exists()
    assert not backup.sidecar(made[1], ".manifest.json").exists()
    assert not list(bk.glob(made[1].name.split(".")[0] + "*"))
    assert (snapshot(tmp_path / "a.mbox"), snapshot(b)) == before
    assert backup.find_verified_backup([open_store(a)], bk) is None  # a changed since a3
    write_mbox(a, [message(f"a{i}") for i in range(3)])
    assert backup.find_verified_backup([open_store(a)], bk).archive == made[2]
    # a state beside the backup folder is found without being named (a jobs file's
    # work/<job>/); once gone, its archive goes too; a second prune finds nothing more
    assert backup_prune.prune(bk, [])[1] == []
    (tmp_path / "state.sqlite").rename(tmp_path / "elsewhere.db")
    assert [x.path for x in backup_prune.prune(bk, [])[1]] == [made[0]]
    assert backup_prune.prune(bk, [])[1] == []


def test_prune_refuses_sources_and_names_a_missing_folder(tmp_path, mm):
    r = mm("backup", "--prune", "--backup-dir", tmp_path / "nowhere")
    assert r.code == ExitCode.USAGE and "not a folder of backups" in r.err
    write_mbox(tmp_path / "a.mbox", [message("a")])
    r = mm("backup", tmp_path / "a.mbox", "--prune", "--backup-dir", tmp_path)
    assert r.code == ExitCode.USAGE and "give no SOURCE" in r.err
