"""``mailmigrate backup``: archive the sources and verify the archive."""

from __future__ import annotations

from pathlib import Path

from migrate import backup, report
from migrate.cli import common


def add_parser(sub):
    p = sub.add_parser("backup", help="write and verify a backup archive of the sources")
    common.add_source_args(p)
    p.add_argument("--backup-dir", required=True, type=Path, metavar="DIR")
    return p


def run(args) -> int:
    stores = common.open_stores(args)
    result = backup.create_backup(stores, args.backup_dir)
    print(f"backup written and verified: {result.archive} ({report.human_size(result.size)})")
    return 0
