"""``mailmigrate restore``: verify a backup archive and extract its stores."""

from __future__ import annotations

from pathlib import Path

from migrate import backup


def add_parser(sub):
    p = sub.add_parser("restore", help="verify a backup and restore its stores into a directory")
    p.add_argument("archive", type=Path, metavar="BACKUP")
    p.add_argument("--to", required=True, type=Path, metavar="DIR")
    return p


def run(args) -> int:
    for root in backup.restore_backup(args.archive, args.to):
        print(f"restored: {root}")
    return 0
