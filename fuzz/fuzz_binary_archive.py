"""Fuzz the binary archive reader: decoding hostile bytes may only raise ArchiveError.

Usage::

    python fuzz/fuzz_binary_archive.py [iterations] [seed]

The corpus is every inflated binary body of ../shared/golden/sc3/payloads (or of the
directory in $SCMASTER3_SHARED) plus archives of hand-made messages at several schema
versions; each iteration mutates one of them (bit flips, byte overwrites, interesting int32
values over length and class-id fields, cuts, splices, a header swap) and decodes the result,
both directly and as a zlib payload. A successful decode must re-encode. Anything else than
success or ArchiveError is printed with the input that caused it; the exit status is then 1.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path

from mutations import mutate

from scmaster3.datamodel import (
    Arrival,
    Comment,
    CreationInfo,
    DataMessage,
    EventParameters,
    Notifier,
    NotifierMessage,
    Origin,
    Pick,
    RealArray,
    Time,
    TimeQuantity,
    Version,
)
from scmaster3.io import ArchiveError, binary
from scmaster3.io.payload import decode_payload

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCMASTER3_SHARED", ROOT.parent / "shared"))
SAMPLE_VERSIONS = (Version(0, 0), Version(0, 9), Version(0, 11))


def sample_messages() -> list[NotifierMessage | DataMessage]:
    """A notifier message and a data message whose objects have children, comments and values of
    every kind of member: the hand-made part of the corpus of each archive's fuzzer."""
    origin = Origin(publicID="Origin/1", time=TimeQuantity(value=Time(1, 2)))
    origin.add(Arrival(pickID="Pick/1", weight=1.0))
    origin.add(Comment(text="hi", id="c1", start=Time(3, 4)))
    ep = EventParameters()
    ep.add(origin)
    ep.add(Pick(publicID="Pick/1", creationInfo=CreationInfo(agencyID="X")))
    return [
        NotifierMessage(attachments=[Notifier(parentID="EventParameters", operation="add", object=origin)]),
        DataMessage(attachments=[ep, RealArray(content=[1.0, 2.0])]),
    ]


def corpus() -> list[bytes]:
    archives = [binary.encode(m, v) for m in sample_messages() for v in SAMPLE_VERSIONS]
    payloads = SHARED / "golden" / "sc3" / "payloads"
    archives.extend(path.read_bytes() for path in sorted(payloads.glob("*.body.bin")))
    return archives


def toggle_header(rng: random.Random, data: bytearray) -> None:
    """Drop the versioned header, or put one (of any version) in front."""
    if data[:4] == b"SCBA":
        del data[:8]
    else:
        data[0:0] = b"SCBA" + struct.pack("<i", rng.choice([0x0B, 0x0A, 0x06, 0x0C, 0]))


def exercise(data: bytes) -> bool:
    """Decode ``data`` directly and as a payload; True if it decoded."""
    try:
        obj = binary.decode(data)
    except ArchiveError:
        decoded = False
    else:
        binary.encode(obj, binary.archive_version(data)[0])
        decoded = True
    try:
        decode_payload(zlib.compress(data, 1), 0)
    except ArchiveError:
        pass
    return decoded


def drive(
    argv: list[str],
    default_iterations: int,
    inputs: list[bytes],
    mutant: Callable[[random.Random, int], bytes],
    exercise: Callable[[bytes], bool],
) -> int:
    """The fuzzing loop of ``main``: ``argv`` is ``[program, iterations, seed]``, both optional;
    ``mutant(rng, iteration)`` makes one input and ``exercise(data)`` says whether it decoded.
    Returns the exit status: 1 after printing the first input that raised anything else."""
    iterations = int(argv[1]) if len(argv) > 1 else default_iterations
    seed = int(argv[2]) if len(argv) > 2 else random.randrange(2**32)
    rng = random.Random(seed)
    print(f"seed {seed}, {len(inputs)} inputs in the corpus, {iterations} iterations")
    started = time.perf_counter()
    decoded = 0
    for iteration in range(iterations):
        data = mutant(rng, iteration)
        try:
            decoded += exercise(data)
        except Exception:
            print(f"iteration {iteration}: input {data!r}")
            traceback.print_exc()
            return 1
    elapsed = time.perf_counter() - started
    print(
        f"no failure; {decoded} inputs decoded, {iterations - decoded} refused; "
        f"{iterations / elapsed:,.0f} inputs/s"
    )
    return 0


def main(argv: list[str]) -> int:
    archives = corpus()
    return drive(
        argv, 100_000, archives, lambda rng, _: mutate(rng, rng.choice(archives), archives, toggle_header), exercise
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
