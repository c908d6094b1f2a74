"""What says whether a file changed: its stat line and its SHA-256.

Shared by the backup (do the sources still match the archive?) and the quick check
(may a folder's facts be taken from the state?), so neither reaches into the other.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20  # bytes read at a time; one buffer per call


def stat_text(st) -> str:
    """Size, times, inode and device: what changes when the file is written or replaced."""
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino} {st.st_dev}"


def sha256_of(f) -> tuple[int, str]:
    """(bytes read, SHA-256) of what is left to read in the binary stream *f*."""
    h = hashlib.sha256()
    size = 0
    with memoryview(bytearray(CHUNK)) as buf:  # one buffer, reused (no copy per read)
        while n := f.readinto(buf):
            h.update(buf[:n])
            size += n
    return size, h.hexdigest()


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return sha256_of(f)[1]
