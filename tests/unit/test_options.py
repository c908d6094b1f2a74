"""Options declared once (migrate/options.py): every option a command takes can be set
on the command line, in a --config file and in a jobs file, with the same effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate import jobs, options
from migrate.cli import arguments, build_parser
from migrate.errors import UsageError

# What a person may not put in a file, and why (docs/architecture.md):
EXEMPT_FROM_FILES = {
    "config": "the file itself",
    "pop_password_env": "a secret's whereabouts: jobs use pop_password = env:/file:",
    "pop_password_file": "as above",
    "password_env": "a secret's whereabouts: jobs use password = env:/file:",
    "password_file": "as above",
    "use_backup": "one archive, for one run",
    "report": "the jobs runner writes reports into the work directory",
    "export_non_mail": "a one-off export",
    "json": "the jobs runner asks for JSON itself",
    "yes": "the jobs runner answers yes itself",
    "state": "jobs: its own 'state' key (a path relative to the jobs file)",
    "backup_dir": "jobs: its own 'backup_dir' key (a path relative to the jobs file)",
    "progress_file": "the jobs runner's own channel for live progress",
    "export_refused": "a one-off export",
}


def sample(o: options.Option):
    if o.choices:
        return o.choices[-1]
    return {"port": 1143, "stop_at": "06:30", "max_duration": "2h", "before": "30d",
            "since": "2020-01-01", "max_size": "10M",
            "max_bytes_per_day": "500M"}.get(o.dest) or {
        bool: True, int: 7, float: 5.0, str: "x", Path: "some/dir", "map": {"Old": "New"},
        "list": ["a"]}[o.kind]


def expected(o: options.Option, value, base: Path | None = None):
    if o.kind == "map":
        return [f"{k}={v}" for k, v in value.items()]
    if o.kind is Path:
        return (base / value) if base else Path(value)
    return float(value) if o.kind is float else value


def command_options():
    for command in sorted(options.MIGRATION):
        for o in options.for_command(command):
            yield command, o


every_option = pytest.mark.parametrize("command, o", list(command_options()),
                                       ids=lambda x: x if isinstance(x, str) else x.dest)


def settable(o, where: bool) -> bool:
    """False for an option a file may not set, which must then be exempt with a reason."""
    if not where:
        assert o.dest in EXEMPT_FROM_FILES, f"{o.dest}: exempt without a reason"
    return where


@every_option
def test_every_option_in_a_config_file(tmp_path, command, o):
    if not settable(o, o.config):
        return
    cfg = tmp_path / "c.toml"
    value = sample(o)
    cfg.write_text(_toml(o.dest, value))
    argv = [command, "src", "--config", str(cfg), "--host", "h", "--user", "u",
            "--backup-dir", str(tmp_path / "bk")]
    if o.dest in ("host", "user", "backup_dir"):
        argv = [a for i, a in enumerate(argv) if not (
            a == o.flag or (i and argv[i - 1] == o.flag))]
    args = arguments.resolve(build_parser().parse_args(argv), command)
    assert getattr(args, o.dest) == expected(o, value)


@every_option
def test_every_option_in_a_jobs_file(tmp_path, command, o):
    if not settable(o, o.jobs):
        return
    assert o.dest in jobs.KEYS
    value = sample(o)
    settings = {"sources": ["store"], "host": "h", "user": "u", o.dest: value}
    job = jobs.Job("one", settings, tmp_path)
    argv = job.command(command, tmp_path / "log")[3:]  # after "python -m migrate"
    args = arguments.resolve(build_parser().parse_args(argv), command)
    assert getattr(args, o.dest) == expected(o, value, tmp_path)
    assert args.sources == [str(tmp_path / "store")]


def test_every_job_key_is_an_option_or_the_runners_own():
    for key in jobs.KEYS:
        assert key in jobs.OWN_KEYS or key in options.BY_DEST


def test_command_line_wins_over_the_file_and_the_file_over_the_default(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('connections = 2\ntls = "starttls"\n[map]\n"A" = "B"\n')
    args = arguments.resolve(build_parser().parse_args(
        ["run", "src", "--config", str(cfg), "--host", "h", "--user", "u", "--backup-dir", "b",
         "--connections", "5", "--map", "C=D"]), "run")
    assert (args.connections, args.tls, args.map, args.batch_size) == (5, "starttls",
                                                                       ["A=B", "C=D"], 50)


def test_bad_values_in_a_config_file_are_named(tmp_path):
    cfg = tmp_path / "c.toml"
    for text, words in (('tls = "tls1"', "use ssl, starttls or none"),
                        ("connections = 0", "more than 0"), ('port = "993"', "wrong type"),
                        ("intto = 1", "unknown key 'intto'")):
        cfg.write_text(text + "\n")
        with pytest.raises(UsageError, match=words):
            arguments.resolve(build_parser().parse_args(["plan", "src", "--config", str(cfg)]),
                            "plan")


def _toml(key: str, value) -> str:
    if isinstance(value, dict):
        return f"[{key}]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in value.items())
    if isinstance(value, list):
        return f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]\n"
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}\n"
    if isinstance(value, (int, float)):
        return f"{key} = {value}\n"
    return f'{key} = "{value}"\n'
