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
    p.add_argument("--list", action="store_true",
                   help="list the archives in --backup-dir by set of sources, with sizes")
    p.add_argument("--prune", action="store_true",
                   help="remove older archives of the same sources from --backup-dir: keeps "
                        "the newest verified one of each set, any newer, and any a state's "
                        "last run used")
    p.add_argument("--dry-run", action="store_true", help="with --prune: only say what goes")
    p.add_argument("--keep-state", action="append", type=Path, default=[], metavar="FILE",
                   help="with --prune: a state database whose backup must stay (repeatable; "
                        "those in your data directory and beside --backup-dir are found)")
    return p


def run(args) -> int:
    if args.list or args.prune:
        return list_or_prune(args)
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
    with byte_bar(backup.source_bytes(stores), "backing up") as bar:
        result = backup.create_backup(stores, args.backup_dir, progress=bar,
                                      compress=args.compress)
    print(f"backup written and verified: {result.archive} ({report.human_size(result.size)})")
    return 0


def list_or_prune(args) -> int:
    from migrate import backup_prune
    if args.sources or args.check or args.backup_dir is None:
        raise UsageError("backup --list and --prune read only --backup-dir DIR; give no "
                         "SOURCE and no --check")
    lines, going = backup_prune.prune(args.backup_dir, args.keep_state,
                                      dry_run=args.dry_run or not args.prune)
    print("\n".join(lines) if lines else f"no backups in {args.backup_dir}")
    if args.prune:
        freed = report.human_size(sum(a.size for a in going))
        print(f"{'would remove' if args.dry_run else 'removed'} {len(going)} archive(s), "
              f"{freed}")
    return 0
