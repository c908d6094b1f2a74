"""``mailmigrate restore``: verify a backup archive and extract its stores."""

from __future__ import annotations

from pathlib import Path

from migrate import backup


def add_parser(sub):
    p = sub.add_parser("restore", help="verify a backup and restore its stores into a directory")
    p.add_argument("archive", type=Path, metavar="BACKUP")
    p.add_argument("--to", required=True, type=Path, metavar="DIR",
                   help="a new or empty directory (files are written private to you)")
    p.add_argument("--force", action="store_true",
                   help="restore into a directory that is not empty (never overwrites a file)")
    return p


def run(args) -> int:
    for root in backup.restore_backup(args.archive, args.to, force=args.force):
        print(f"restored: {root}")
    return 0
