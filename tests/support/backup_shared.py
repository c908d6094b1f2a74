"""What the tests of test_backup share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import os

from migrate import backup_archive
from tests.support.builders import message, write_mbox


def make_store(root):
    (root / "Archive.sbd").mkdir(parents=True)
    write_mbox(root / "Inbox", [message("a"), message("b")])
    write_mbox(root / "Archive.sbd" / "2019", [message("c")])
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    return root


def make_kind(kind, root):
    """One small store of each kind the readers know."""
    from tests.unit.test_readers import make_maildirpp, put
    if kind == "mbox":
        write_mbox(root / "one.mbox", [message("a"), message("b")])
        return root / "one.mbox"
    if kind == "mbox-tree":
        return make_store(root / "tree")
    if kind == "maildir":
        make_maildirpp(root / "Maildir")
        return root / "Maildir"
    if kind == "eml-tree":
        put(root / "eml" / "Inbox" / "a.eml", message("a"))
        put(root / "eml" / "Inbox" / "notes.txt", b"not mail\n")
        return root / "eml"
    profile = root / "profile"
    (profile / "prefs.js").parent.mkdir(parents=True)
    (profile / "prefs.js").write_text("// prefs\n")
    write_mbox(profile / "Mail" / "Local Folders" / "Inbox", [message("tb")])
    (profile / "Mail" / "Local Folders" / "Inbox.msf").write_text("// mork\n")
    return profile


def _truncate(archive):
    os.truncate(archive, archive.stat().st_size // 2)


def _flip(archive):
    data = bytearray(archive.read_bytes())
    data[data.find(b"Subject: c")] ^= 0x20
    archive.write_bytes(bytes(data))


def _remove_member(archive):
    import tarfile
    keep = tmp = archive.with_name("rewritten.tar")
    with tarfile.open(archive) as old, tarfile.open(tmp, "w") as new:
        for member in old.getmembers():
            if not member.name.endswith("/2019"):
                new.addfile(member, old.extractfile(member))
    os.replace(keep, archive)


def _age_marker(archive, days):
    import datetime as dt
    import json as js
    marker = backup_archive.verified_marker(archive)
    mark = js.loads(marker.read_bytes())
    mark["verified"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    marker.write_bytes(js.dumps(mark).encode())


def _rot(archive, name="Inbox"):
    """Flip one byte of a member's data, the archive's time kept (as bit rot leaves it)."""
    import tarfile
    st = archive.stat()
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(name))
    with open(archive, "r+b") as f:
        f.seek(member.offset_data)
        byte = f.read(1)
        f.seek(member.offset_data)
        f.write(bytes([byte[0] ^ 1]))
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))
