"""The state database's schema: its tables as each version made them (a state file
of any earlier version is migrated forward), and the check that its rows hold what
their columns declare. What the tables mean, and the journal protocol, are in
``state`` and docs/state.md."""

from __future__ import annotations

import sqlite3

MIGRATIONS = [
    # version 1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE messages (
        mailbox      TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        header_key   TEXT NOT NULL,
        size         INTEGER NOT NULL,
        status       TEXT NOT NULL,
        batch        INTEGER,
        uidvalidity  INTEGER,
        uid          INTEGER,
        reason       TEXT,
        source       TEXT,
        updated      REAL NOT NULL,
        PRIMARY KEY (mailbox, content_hash)
    );
    CREATE INDEX messages_status ON messages (mailbox, status);
    CREATE TABLE batches (
        id          INTEGER PRIMARY KEY,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER,
        uidnext     INTEGER,
        created     REAL NOT NULL
    );
    CREATE TABLE runs (
        id        INTEGER PRIMARY KEY,
        command   TEXT NOT NULL,
        started   REAL NOT NULL,
        ended     REAL,
        exit_code INTEGER,
        summary   TEXT
    );
    CREATE TABLE backups (
        manifest_sha256 TEXT PRIMARY KEY,
        path            TEXT NOT NULL,
        verified        REAL NOT NULL,
        forced_skip     INTEGER NOT NULL DEFAULT 0
    );
    """,
    # version 2: what the sources were, where their folders go, what was not uploaded
    """
    CREATE TABLE sources (
        path      TEXT PRIMARY KEY,
        kind      TEXT NOT NULL,
        files     INTEGER NOT NULL,
        bytes     INTEGER NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE TABLE folders (
        source  TEXT NOT NULL,
        folder  TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        note    TEXT,
        PRIMARY KEY (source, folder)
    );
    CREATE TABLE skipped (
        mailbox TEXT NOT NULL,
        source  TEXT NOT NULL,
        action  TEXT NOT NULL,
        reason  TEXT,
        run     INTEGER
    );
    CREATE INDEX skipped_mailbox ON skipped (mailbox);
    """,
    # version 3: the Message-ID key of each row (reconcile's rule needs it for in-flight rows)
    """
    ALTER TABLE messages ADD COLUMN message_id TEXT;
    """,
    # version 4: what a run read from each source folder, for the quick check (quickcheck.py)
    """
    CREATE TABLE folder_facts (
        id        INTEGER PRIMARY KEY,
        store     TEXT NOT NULL,
        folder    TEXT NOT NULL,
        signature TEXT NOT NULL,
        messages  INTEGER NOT NULL,
        recorded  REAL NOT NULL,
        UNIQUE (store, folder)
    );
    CREATE TABLE message_facts (
        folder       INTEGER NOT NULL,
        seq          INTEGER NOT NULL,
        key          BLOB NOT NULL,
        location     TEXT NOT NULL,
        size         INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        header_key   TEXT NOT NULL,
        body_hash    TEXT NOT NULL,
        message_id   TEXT NOT NULL,
        internaldate TEXT,
        flags        TEXT NOT NULL,
        keywords     TEXT NOT NULL,
        skip_reason  TEXT,
        notes        TEXT,
        has_nul      INTEGER NOT NULL,
        longest_line INTEGER NOT NULL,
        PRIMARY KEY (folder, seq)
    ) WITHOUT ROWID;
    CREATE TABLE file_hashes (
        path   BLOB PRIMARY KEY,
        stat   TEXT NOT NULL,
        sha256 TEXT NOT NULL
    );
    ALTER TABLE messages ADD COLUMN flags_checked INTEGER;
    """,
    # version 5: rows placed by UID COPY from another mailbox (no bytes sent: not in the budget)
    """
    ALTER TABLE messages ADD COLUMN copied INTEGER;
    CREATE INDEX messages_hash ON messages (content_hash);
    """,
    # version 6: the UIDNEXT before our first upload into a mailbox (upload_floor)
    """
    CREATE TABLE upload_floor (
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uidnext     INTEGER NOT NULL,
        PRIMARY KEY (mailbox, uidvalidity)
    );
    """,
    # version 7: message_facts.body_hash may be '' (left out: plan.hash_left_out_bodies);
    # no table changes, but a mailmigrate from before would take '' for a body's hash
    "",
]


# what each column's declared type allows to be read back (typeof), besides NULL where
# the column may be NULL; UIDs and UIDVALIDITY must be 32-bit numbers as well
_TYPES = {"INTEGER": ("integer",), "REAL": ("real", "integer"), "TEXT": ("text",),
          "BLOB": ("blob",)}
_UID_COLUMNS = {"uid", "uidvalidity", "uidnext"}
# a message's facts as the quick check keeps them (table message_facts; the plan's spool
# has the same columns): what reading it again would give, so it need not be read
FACT_COLUMNS = ("key", "location", "size", "content_hash", "header_key", "body_hash",
                "message_id", "internaldate", "flags", "keywords", "skip_reason", "notes",
                "has_nul", "longest_line")


def edited_rows(db: sqlite3.Connection) -> list[str]:
    """Tables and columns holding a value of a kind their schema does not (a record
    edited by hand, ``uid='abc'``): each would be a traceback where it is read."""
    found = []
    tables = [name for name, in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        checks = []
        for _, column, declared, notnull, _, _ in db.execute(f'PRAGMA table_info("{table}")'):
            kinds = _TYPES.get(declared.upper())
            if kinds is None:
                continue
            allowed = ", ".join(f"'{k}'" for k in kinds + (() if notnull else ("null",)))
            test = f'typeof("{column}") NOT IN ({allowed})'
            if column in _UID_COLUMNS:
                test += f' OR "{column}" < 0 OR "{column}" > {2 ** 32 - 1}'
            checks.append((column, test))
        if not checks:
            continue
        row = db.execute(f'SELECT {", ".join(f"max({t})" for _, t in checks)} '
                         f'FROM "{table}"').fetchone()
        found += [f"{table}.{column}" for (column, _), bad in zip(checks, row) if bad]
    return found
