"""Read speed and memory of the readers of issue 36, each beside a reference.

    python bench/store_readers.py [--messages 5000] [--dir /tmp]

The same generated messages are written as each store kind and as the store a
reference reader takes (the EML-folder reader for one-file-per-message stores,
the mbox reader for one-file stores), then ``plan`` reads each in a fresh
process (no server): wall time, messages/s, MB/s of message bytes and peak RSS.
What it says: how much each format's own work (byte counts and plists, marks,
the dbx index, labels, XML and MIME building) costs over reading the same bytes
from the simplest layout.
"""

from __future__ import annotations

import argparse
import json
import plistlib
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = "meeting invoice project thanks regards please attached report schedule".split()


def messages(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(100, 900)))
        out.append((f"From: a{i % 50}@example.org\nTo: b@example.org\nSubject: m{i}\n"
                    f"Date: Mon, 0{1 + i % 9} Feb 2021 10:00:00 +0000\n"
                    f"Message-ID: <m{i}@example.org>\n\n{body}\n").encode())
    return out


def write_eml(root: Path, msgs: list[bytes]) -> Path:
    (root / "Inbox").mkdir(parents=True)
    for i, m in enumerate(msgs):
        (root / "Inbox" / f"{i}.eml").write_bytes(m)
    return root


def write_mh(root: Path, msgs: list[bytes]) -> Path:
    (root / "inbox").mkdir(parents=True)
    for i, m in enumerate(msgs, 1):
        (root / "inbox" / str(i)).write_bytes(m)
    (root / "inbox" / ".mh_sequences").write_text(f"unseen: 1-{len(msgs) // 2}\n")
    return root


def write_emlx(root: Path, msgs: list[bytes]) -> Path:
    box = root / "V10" / "ACCOUNT" / "INBOX.mbox" / "DATA" / "Data" / "1" / "Messages"
    box.mkdir(parents=True)
    for i, m in enumerate(msgs):
        (box / f"{i}.emlx").write_bytes(f"{len(m)}\n".encode() + m +
                                        plistlib.dumps({"flags": 1, "date-received": 1e9}))
    return root


def write_mbox(path: Path, msgs: list[bytes], extra: bytes = b"") -> Path:
    with open(path, "wb") as f:
        for m in msgs:
            f.write(b"From a@example.org Mon Feb  1 10:00:00 2021\n" + extra + m + b"\n")
    return path


def write_dbx(path: Path, msgs: list[bytes]) -> Path:
    """OE5/6 layout: header, one index node per 200 entries chained as children."""
    out = bytearray(0x24BC)
    out[0:8] = b"\xcf\xad\x12\xfe\xc5\xfd\x74\x6f"
    items = []
    for m in msgs:
        starts = []
        for at in range(0, len(m), 0x200):
            chunk = m[at:at + 0x200]
            starts.append(len(out))
            out += struct.pack("<IIHHI", len(out), 0x200, len(chunk), 0, 0) + chunk.ljust(
                0x200, b"\0")
        for a, b in zip(starts, starts[1:]):
            struct.pack_into("<I", out, a + 12, b)
        body = bytes([0x81, 0x80, 0, 0, 0x04, 0, 0, 0]) + struct.pack("<I", starts[0])
        items.append(len(out))
        out += struct.pack("<IIHBB", len(out), len(body), 0, 2, 0) + body
    child = 0
    for group in reversed([items[i:i + 200] for i in range(0, len(items), 200)]):
        node = len(out)
        out += bytearray(0x18 + 12 * len(group))
        struct.pack_into("<I", out, node, node)
        out[node + 0x11] = len(group)
        for j, item in enumerate(group):
            struct.pack_into("<III", out, node + 0x18 + 12 * j, item,
                             child if j == len(group) - 1 else 0, 0)
        child = node
    struct.pack_into("<I", out, 0xC4, len(items))
    struct.pack_into("<I", out, 0xE4, child)
    path.write_bytes(bytes(out))
    return path


def write_olm(path: Path, msgs: list[bytes]) -> Path:
    from xml.sax.saxutils import escape
    with zipfile.ZipFile(path, "w") as z:
        for i, m in enumerate(msgs):
            head, _, body = m.decode().partition("\n\n")
            subject = head.split("Subject: ")[1].split("\n")[0]
            z.writestr(f"Local/com.microsoft.__Messages/Inbox/message_{i:05d}.xml",
                       "<emails><email><OPFMessageCopySubject>" + escape(subject) +
                       "</OPFMessageCopySubject><OPFMessageCopyBody>" + escape(body) +
                       "</OPFMessageCopyBody><OPFMessageGetIsRead>1E0</OPFMessageGetIsRead>"
                       "</email></emails>")
    return path


def plan(source: Path) -> dict:
    """One plan of *source* in a fresh process: seconds, peak RSS (MB), its counts."""
    script = ("import json,resource,sys,time\n"
              "from migrate.sources import open_store\n"
              "from migrate.plan import build_plan\n"
              "t=time.perf_counter(); p=build_plan([open_store(sys.argv[1])])\n"
              "s=time.perf_counter()-t\n"
              "print(json.dumps({'seconds':s,'messages':sum(len(f.messages) for f in p.folders),"
              "'bytes':sum(f.bytes_for() for f in p.folders),"
              "'rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))\n")
    done = subprocess.run([sys.executable, "-c", script, str(source)], capture_output=True,
                          text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    msgs = messages(args.messages)
    work = Path(tempfile.mkdtemp(prefix="mm-readers-", dir=args.dir))
    try:
        cases = [
            ("eml-tree (reference)", write_eml(work / "eml", msgs)),
            ("mh", write_mh(work / "mh", msgs)),
            ("apple-mail .emlx", write_emlx(work / "apple", msgs)),
            ("mbox (reference)", write_mbox(work / "plain.mbox", msgs)),
            ("takeout (1 label each)", write_mbox(work / "takeout.mbox", msgs,
                                                  b"X-GM-THRID: 1\nX-Gmail-Labels: Inbox\n")),
            ("outlook-express .dbx", write_dbx(work / "Inbox.dbx", msgs)),
            ("olm (rebuilt MIME)", write_olm(work / "export.olm", msgs)),
        ]
        print(f"{args.messages} messages, {sum(map(len, msgs)) / 1e6:.1f} MB of message bytes; "
              f"plan of each in a fresh process, best of 3")
        print(f"{'store':26} {'seconds':>8} {'msg/s':>8} {'MB/s':>6} {'peak RSS MB':>12}")
        for label, source in cases:
            runs = [plan(source) for _ in range(3)]
            best = min(runs, key=lambda r: r["seconds"])
            assert best["messages"] == args.messages, (label, best)
            print(f"{label:26} {best['seconds']:8.2f} {best['messages'] / best['seconds']:8.0f} "
                  f"{best['bytes'] / 1e6 / best['seconds']:6.1f} {best['rss_mb']:12.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
