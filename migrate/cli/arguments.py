"""argparse arguments from the option declaration (migrate/options.py), and the one
place where a command's values are resolved: command line, then --config, then default."""

from __future__ import annotations

import argparse
from pathlib import Path

from migrate.errors import UsageError
from migrate.options import for_command, load_config


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The command's options. Defaults stay None here: :func:`resolve` fills them after
    the config file, so a file value is never mistaken for one typed on the line."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for o in for_command(command):
        target = parser if o.group == "options" else groups.setdefault(
            o.group, parser.add_argument_group(o.group))
        kwargs: dict = {"dest": o.dest, "default": None,
                        "help": argparse.SUPPRESS if o.hidden else o.help}
        if o.kind is bool:
            kwargs["action"] = "store_true"
        elif o.kind in ("list", "map"):
            kwargs.update(action="append", metavar=o.metavar)
        else:
            kwargs.update(type=o.kind, metavar=o.metavar, choices=o.choices)
        target.add_argument(o.flag, **kwargs)


def resolve(args: argparse.Namespace, command: str) -> argparse.Namespace:
    """Fill *args*: command line first, then the --config file, then the defaults;
    then check what the command requires. Called once, before the command runs."""
    data = load_config(args.config, command) if getattr(args, "config", None) else {}
    for o in for_command(command):
        value = getattr(args, o.dest, None)
        if o.kind == "map":
            from_file = [f"{old}={new}" for old, new in data.get(o.dest, {}).items()]
            value = from_file + (value or [])
        elif value is None or value is False:
            if o.dest in data:
                value = Path(data[o.dest]) if o.kind is Path else (
                    float(data[o.dest]) if o.kind is float else data[o.dest])
            elif value is None:
                value = o.default
        elif o.check:
            o.check(value)
        setattr(args, o.dest, value)
    for o in for_command(command):
        if command in o.required and getattr(args, o.dest) in (None, ""):
            raise UsageError(f"{o.flag} is required (on the command line or in --config)")
    return args
