"""Compressed RTF (MS-OXRTFCP), as Outlook keeps a message's RTF body in a .msg.

A 16-byte header (compressed size, raw size, ``LZFu`` or ``MELA`` for stored
uncompressed, CRC), then runs of a control byte whose bits, low first, say
whether each next token is a literal byte or a two-byte reference (12 bits of
offset into a 4 KB ring dictionary that starts pre-filled with a fixed RTF
prefix, 4 bits of length - 2). A reference to the write position ends it.
"""

from __future__ import annotations

import struct

PREFIX = (b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss "
          b"\\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier"
          b"{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx")
COMPRESSED, STORED = 0x75465A4C, 0x414C454D


class RtfError(ValueError):
    pass


def decompress(data: bytes) -> bytes:
    if len(data) < 16:
        raise RtfError("compressed RTF shorter than its header")
    comp_size, raw_size, kind, _ = struct.unpack_from("<4I", data)
    body = data[16:comp_size + 4]
    if kind == STORED:
        return body[:raw_size]
    if kind != COMPRESSED:
        raise RtfError(f"unknown compressed RTF type {kind:#x}")
    ring = bytearray(4096)
    ring[:len(PREFIX)] = PREFIX
    write = len(PREFIX)
    out = bytearray()
    i = 0
    while i < len(body):
        control = body[i]
        i += 1
        for bit in range(8):
            if i >= len(body):
                return bytes(out[:raw_size])
            if not control & (1 << bit):
                out.append(body[i])
                ring[write] = body[i]
                write = (write + 1) & 0xFFF
                i += 1
                continue
            if i + 1 >= len(body):
                raise RtfError("compressed RTF cut inside a reference")
            word = (body[i] << 8) | body[i + 1]
            i += 2
            offset, length = word >> 4, (word & 0xF) + 2
            if offset == write:
                return bytes(out[:raw_size])
            for _ in range(length):
                byte = ring[offset]
                out.append(byte)
                ring[write] = byte
                write = (write + 1) & 0xFFF
                offset = (offset + 1) & 0xFFF
            if len(out) > raw_size + 4096:
                raise RtfError("compressed RTF longer than its header says")
    return bytes(out[:raw_size])
