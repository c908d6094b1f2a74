"""``mailmigrate backup``: archive the sources and verify the archive."""

from __future__ import annotations


from pathlib import Path

from migrate import backup, report
from migrate.cli import common
from migrate.errors import UsageError
from migrate.progress import byte_bar


def add_parser(sub):
    p = sub.add_parser("backup", help="write and verify a backup archive of the sources "
                                      "(or --check one)")
    common.add_command_args(p, "backup")
    p.add_argument("--check", type=Path, metavar="ARCHIVE",
                   help="re-read a backup whole and compare every file with its manifest "
                        "(bit rot, a damaged disk); no source is needed")
    return p


def source_bytes(stores) -> int:
    return sum(f.stat().st_size for s in stores for f in s.files())


def run(args) -> int:
    if args.check:
        if args.sources:
            raise UsageError("backup --check ARCHIVE reads only the archive; give no SOURCE")
        result = backup.check_backup(args.check)
        print(f"backup {result.archive} re-read whole: every file matches its manifest "
              f"({report.human_size(result.size)}; {backup.verified_words(result)})")
        return 0
    if not args.sources or args.backup_dir is None:
        raise UsageError("backup needs SOURCE... and --backup-dir DIR (or --check ARCHIVE)")
    stores = common.open_stores(args, take=True)
    with byte_bar(source_bytes(stores), "backing up") as bar:
        result = backup.create_backup(stores, args.backup_dir, progress=bar,
                                      compress=args.compress)
    print(f"backup written and verified: {result.archive} ({report.human_size(result.size)})")
    return 0
