"""Fuzz the SeisComP3 message codecs: decoding hostile bytes may only raise ProtocolError.

Usage::

    python fuzz/fuzz_sc3_protocol.py [iterations] [seed]

The corpus is every captured body of ../shared/golden/sc3/payloads (or of the directory in
$SCMASTER3_SHARED) plus a few hand-made ones; each iteration mutates one of them (bit flips,
byte overwrites, inserted length fields, cuts, splices) and feeds the result to the body
decoders, the data-field inflater, the text readers and the mediator's relay scanner (which
reads data bodies by offsets and must agree with the decoder: same fields, same stamped
body, MalformedMessage where the decoder raises). Anything other than success or
ProtocolError, or a disagreement, is printed with the input that caused it, and the exit
status is 1.
"""

from __future__ import annotations

import os
import random
import sys
import traceback
from pathlib import Path

from mutations import mutate

from scmaster3.master import MalformedMessage, scan_data_body
from scmaster3.protocol import (
    ClientStatus,
    ConnectOk,
    MembershipChange,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    decode_data_field,
    decode_message,
    parse_client_list,
    parse_connection_info,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCMASTER3_SHARED", ROOT.parent / "shared"))


def corpus() -> list[bytes]:
    bodies = [
        NetworkMessage(type=1, destination="PICK", data=b"xyz", private_sender_group="#a#b").encode(),
        ServiceMessage(type=-4, destination="#x#y", data=b"Groups: A", protocol_version="1.1").encode(),
    ]
    payloads = SHARED / "golden" / "sc3" / "payloads"
    bodies.extend(path.read_bytes() for path in sorted(payloads.glob("*.netmsg.bin")))
    return bodies


def relay_scan(body: bytes) -> None:
    """The mediator's relay must read a data body as the decoder does."""
    try:
        decoded = NetworkMessage.decode(body)
    except ProtocolError:
        try:
            scan_data_body(body)
        except MalformedMessage:
            return
        raise AssertionError("the relay scanner accepts a body the decoder refuses") from None
    view = scan_data_body(body)
    if (view.type, view.data, view.private_sender_group, view.tagged) != (
        decoded.type,
        decoded.data,
        decoded.private_sender_group,
        decoded.tagged,
    ) or view.destination != decoded.destination.encode("latin-1"):
        raise AssertionError("the relay scanner reads other fields than the decoder")
    if view.stamped(1, 2) != decoded.stamped(1, 2).encode():
        raise AssertionError("the relay scanner stamps another body than the encoder")


def exercise(body: bytes, mess_type: int | None) -> None:
    relay_scan(body)
    try:
        message = decode_message(body, mess_type)
    except ProtocolError:
        pass
    else:
        if type(message).decode(message.encode()) != message:
            raise AssertionError("decoded message does not survive a round trip")
        if isinstance(message, NetworkMessage):
            try:
                decode_data_field(message.data, message.content_type, max_size=1 << 20)
            except ProtocolError:
                pass
    text = body.decode("latin-1")
    ClientStatus.parse(text).memory_usage_percent()
    parse_connection_info(text)
    ConnectOk.parse(text, "1.1")
    for reader in (parse_client_list, MembershipChange.parse):
        try:
            reader(text)
        except ProtocolError:
            pass


def main(argv: list[str]) -> int:
    iterations = int(argv[1]) if len(argv) > 1 else 100_000
    seed = int(argv[2]) if len(argv) > 2 else random.randrange(2**32)
    rng = random.Random(seed)
    bodies = corpus()
    print(f"fuzzing {iterations} inputs from {len(bodies)} seeds, seed {seed}")
    failures = 0
    for iteration in range(iterations):
        body = mutate(rng, rng.choice(bodies), bodies)
        mess_type = rng.choice([None, 1, 257, -1, -4, 0, rng.randint(-(2**15), 2**15 - 1)])
        try:
            exercise(body, mess_type)
        except Exception:  # any exception other than ProtocolError is a finding
            failures += 1
            print(f"iteration {iteration}: mess_type={mess_type} body={body.hex()}")
            traceback.print_exc()
            if failures >= 10:
                break
    print("no findings" if not failures else f"{failures} findings")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
