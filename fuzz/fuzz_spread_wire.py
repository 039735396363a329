"""Fuzz the Spread wire codec and the daemon's session state machine.

Usage::

    python fuzz/fuzz_spread_wire.py [iterations] [seed]

The corpus is every frame of ../shared/golden/spread (or of $SCMASTER3_SHARED) plus a few
hand-made ones. Each iteration mutates a stream of them (bit flips, interesting integers
in the header fields, cuts, splices, duplicated frames), splits it at random points and
feeds it to

* ``MessageParser`` in both directions: only ``SpreadWireError`` may escape, every byte
  is either returned in a frame or still buffered, and nothing is re-scanned (a hostile
  header is refused before its body is awaited);
* ``decode_connect``, ``decode_auth_choice``, ``decode_membership``: only their documented
  errors;
* ``Session`` (handshake, then messages): it must turn anything into events, never raise.

Anything else is printed with the input that caused it, and the exit status is 1.
"""

from __future__ import annotations

import os
import random
import struct
import sys
import traceback
from pathlib import Path

from spreadbus import wire
from spreadbus.session import ConnectRequested, Session, State

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCMASTER3_SHARED", ROOT.parent / "shared"))
INTERESTING_INT32 = [0, 1, -1, 31, 32, 100, 101, 0x7FFF, 0xFFFF, 2**31 - 1, -(2**31), 14_400_000, 14_399_953]


def corpus() -> tuple[list[bytes], list[bytes]]:
    """(handshake units, messages) from the golden traces and a few hand-made frames."""
    handshake, messages = [], []
    for path in sorted((SHARED / "golden" / "spread").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[1] in ("C>D", "D>C") and parts[2] != "EOF":
                data = bytes.fromhex(parts[2])
                (messages if _is_message(data, parts[1] == "D>C") else handshake).append(data)
    messages.append(wire.encode_reject_message(wire.FIFO_MESS, "#a#localhost", ["g"], b"x"))
    messages.append(wire.encode_transitional("g", wire.GroupId(1, 2, 3)))
    messages.append(
        wire.encode_message(wire.SAFE_MESS, "#fz#localhost", ["g"] * 100, b"y" * 50, -1, wire.BIG)
    )
    return handshake, messages


def _is_message(data: bytes, from_daemon: bool) -> bool:
    parser = wire.MessageParser(from_daemon=from_daemon, max_groups=None)
    parser.feed(data)
    try:
        frame = parser.next_frame()
    except wire.SpreadWireError:
        return False
    return frame is not None and len(frame.raw) == len(data)


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if not out:
            out += rng.randbytes(rng.randint(1, 60))
        elif choice < 0.35:
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        elif choice < 0.6 and len(out) >= wire.HEADER_LEN:
            offset = rng.choice([0, 36, 40, 44])
            order = rng.choice("<>")
            value = rng.choice(INTERESTING_INT32)
            out[offset : offset + 4] = struct.pack(order + "i", value)
        elif choice < 0.75:
            cut = rng.randrange(len(out))
            del out[cut : cut + rng.randint(1, 64)]
        elif choice < 0.9:
            i = rng.randrange(len(out) + 1)
            out[i:i] = rng.randbytes(rng.randint(1, 40))
        else:
            out += out[: rng.randint(1, len(out))]
    return bytes(out)


def chunks(rng: random.Random, data: bytes) -> list[bytes]:
    pieces, pos = [], 0
    while pos < len(data):
        size = rng.choice([1, 3, 47, 48, 49, 500, 4096, len(data)])
        pieces.append(data[pos : pos + size])
        pos += size
    return pieces


def check_parser(rng: random.Random, stream: bytes) -> None:
    from_daemon = rng.random() < 0.5
    parser = wire.MessageParser(from_daemon=from_daemon, max_groups=None if from_daemon else 100)
    fed = returned = 0
    for piece in chunks(rng, stream):
        parser.feed(piece)
        fed += len(piece)
        try:
            for frame in parser.frames():
                returned += len(frame.raw)
                frame.groups, frame.data  # noqa: B018 - accessors must not fail
                if wire.is_membership(frame.header.type) and frame.header.type & wire.REG_MEMB_MESS:
                    try:
                        wire.decode_membership(frame.data, frame.header.byteorder)
                    except wire.InvalidFrame:
                        pass
        except wire.SpreadWireError:
            return
        assert returned + parser.buffered == fed, "bytes lost or duplicated"
        assert parser.buffered <= len(piece) + wire.MAX_MESSAGE_BODY_LEN + 52


def check_decoders(rng: random.Random, data: bytes) -> None:
    try:
        result = wire.decode_connect(data)
        if result is not None:
            assert result[1] <= len(data)
    except wire.HandshakeError as exc:
        assert exc.code in (wire.REJECT_VERSION, wire.REJECT_ILLEGAL_NAME)
    result = wire.decode_auth_choice(data)
    assert result is None or result[1] == wire.AUTH_CHOICE_LEN
    try:
        wire.decode_membership(data, rng.choice([wire.LITTLE, wire.BIG]))
    except wire.InvalidFrame:
        pass


def check_session(rng: random.Random, handshake: bytes, stream: bytes) -> None:
    session = Session(b"localhost")
    for piece in chunks(rng, handshake + stream):
        for event in session.receive_data(piece):
            if isinstance(event, ConnectRequested):
                name = event.message.name or b"rfz-1"
                session.admit(name) if rng.random() < 0.9 else session.refuse(wire.REJECT_NOT_UNIQUE)
                session.receive_data(b"")
        if session.state is State.CLOSED:
            break
    session.receive_eof()
    assert session.state is State.CLOSED


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    handshake_units, messages = corpus()
    good_handshake = wire.encode_connect("fz") + wire.encode_auth_choice()
    for i in range(iterations):
        stream = b"".join(mutate(rng, rng.choice(messages)) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            stream = rng.choice(messages) + stream
        unit = mutate(rng, rng.choice(handshake_units)) if rng.random() < 0.5 else good_handshake
        if rng.random() < 0.5:
            stream = stream.replace(b"#alice#localhost", b"#fz#localhost\0\0\0")
        try:
            check_parser(rng, stream)
            check_decoders(rng, unit)
            check_session(rng, unit if rng.random() < 0.3 else good_handshake, stream)
        except Exception:
            traceback.print_exc()
            print(f"iteration {i}, seed {seed}: stream {stream.hex()} handshake {unit.hex()}")
            return 1
    print(f"{iterations} iterations, seed {seed}: no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
