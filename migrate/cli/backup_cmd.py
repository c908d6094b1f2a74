"""``mailmigrate backup``: archive the sources and verify the archive."""

from __future__ import annotations

from pathlib import Path

from migrate import backup, report
from migrate.cli import common
from migrate.progress import byte_bar


def add_parser(sub):
    p = sub.add_parser("backup", help="write and verify a backup archive of the sources")
    common.add_source_args(p)
    p.add_argument("--backup-dir", required=True, type=Path, metavar="DIR")
    p.add_argument("--compress", action="store_true",
                   help="write .tar.gz (gzip level 1) instead of plain .tar; see docs/backup.md")
    return p


def source_bytes(stores) -> int:
    return sum(f.stat().st_size for s in stores for f in s.files())


def run(args) -> int:
    stores = common.open_stores(args, take=True)
    with byte_bar(source_bytes(stores), "backing up") as bar:
        result = backup.create_backup(stores, args.backup_dir, progress=bar,
                                      compress=args.compress)
    print(f"backup written and verified: {result.archive} ({report.human_size(result.size)})")
    return 0
