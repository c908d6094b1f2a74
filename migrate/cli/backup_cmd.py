"""``mailmigrate backup``: archive the sources and verify the archive."""

from __future__ import annotations


from migrate import backup, report
from migrate.cli import common
from migrate.progress import byte_bar


def add_parser(sub):
    p = sub.add_parser("backup", help="write and verify a backup archive of the sources")
    common.add_command_args(p, "backup")
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
