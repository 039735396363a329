"""Byte mutations shared by the fuzz targets of SeisComP3's little-endian, length-prefixed bodies
(binary archives and network messages): bit flips, stray bytes, 32-bit values at the edges of
what a length or count field can say, truncation and splices of another sample."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

INTERESTING_INT32 = [0, 1, 2, -1, -2, 4, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, -(2**31), 1 << 20]

Mutation = Callable[[random.Random, bytearray], None]


def mutate(rng: random.Random, sample: bytes, corpus: list[bytes], *extra: Mutation) -> bytes:
    """One to four mutations of ``sample``; ``extra`` adds format-specific ones to the choice."""
    data = bytearray(sample)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6 + len(extra))
        position = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(position, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice == 2:
            data[position:position] = struct.pack("<i", rng.choice(INTERESTING_INT32))
        elif choice == 3:
            del data[position:]
        elif choice == 4:
            other = rng.choice(corpus)
            data[position:] = other[rng.randrange(len(other) + 1) :]
        elif choice == 5:
            data[position : position + 4] = struct.pack("<i", rng.choice(INTERESTING_INT32))
        elif choice >= 6:
            extra[choice - 6](rng, data)
    return bytes(data)
