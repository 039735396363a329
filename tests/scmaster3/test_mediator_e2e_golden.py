"""The recorded SeisComP3 session replayed: our mediator must say what scmaster said.

``golden/sc3/traces`` hold one capture of the real stack: the scmaster session (01) and
every client session (02-14) as byte streams, all on one clock. Here every client's bytes
(connect, auth choice, each Spread message, its end of stream) are sent again, in the
recorded order, to a spreadbus daemon on which our mediator runs behind a recording relay.
Before each client step the replay waits until our mediator has sent as many messages as
scmaster had sent by then, so the interleaving is the recorded one. Finally the mediator is
stopped (scmaster was stopped at the end of the capture).

What our mediator sent must equal what scmaster sent, message for message: Spread header
(type, sender, group count, message type), group names, and the SeisComP3 body field by
field with these fields masked:

* ``seqNum`` and ``timeStamp`` of every body (the counter also counts scmaster's own
  periodic reports, which come at times of their own);
* the ``uptime=`` value of republished state-of-health reports and the uptime field of
  each client-list entry (times since admission differ between capture and replay).

Left out on both sides: scmaster's own state-of-health report (the unstamped copy it sends
itself, service FIFO, and its republication), which depends on a 12-second timer.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
import time
from pathlib import Path

from scmaster3.master import scan_data_body
from scmaster3.protocol import MessageType, decode_message
from spreadbus import wire
from tests.scmaster3.test_mediator_e2e import DatabaseOffer, MediatorThread, settings, start_bus

MASTER = b"#_MASTER_#localhost"
HANDSHAKE_BYTES = 13 + wire.AUTH_CHOICE_LEN  # connect message of "_MASTER_", auth choice


def read_stream(trace: Path, direction: str) -> tuple[bytes, list[float]]:
    """One direction of a trace: its bytes, and EOF times."""
    chunks = []
    eofs = []
    for line in trace.read_text().splitlines():
        if line.startswith("#"):
            continue
        t, kind, value = line.split(" ")
        if kind != direction:
            continue
        if value == "EOF":
            eofs.append(float(t))
        else:
            chunks.append(bytes.fromhex(value))
    return b"".join(chunks), eofs


def units(traces: Path, stem: str, direction: str) -> list[tuple[float, str, bytes]]:
    """``(t, kind, bytes)`` of one session's units in one direction, plus its EOF."""
    stream, eofs = read_stream(traces / f"{stem}.trace", direction)
    records = [
        json.loads(line)
        for line in (traces / f"{stem}.frames.jsonl").read_text().splitlines()
        if line.strip()
    ]
    mine = [r for r in records if r["dir"] == direction]
    out = []
    for index, record in enumerate(mine):
        end = mine[index + 1]["off"] if index + 1 < len(mine) else len(stream)
        out.append((record["t"], record["kind"], stream[record["off"] : end]))
    out += [(t, "eof", b"") for t in eofs]
    return out


def is_own_report(frame: wire.Frame) -> bool:
    """scmaster's own state-of-health report: the self-addressed copy or its republication."""
    if (
        not frame.header.type & wire.REGULAR_MESS
        or frame.header.msg_type != MessageType.STATE_OF_HEALTH_RESPONSE_MSG
    ):
        return False
    body = decode_message(frame.data, frame.header.msg_type)
    return body.private_sender_group == MASTER.decode()


def master_frames(stream: bytes) -> list[wire.Frame]:
    parser = wire.MessageParser()
    parser.feed(stream[HANDSHAKE_BYTES:])
    return [frame for frame in parser.frames() if not is_own_report(frame)]


_SOH_UPTIME = re.compile(r"uptime=[0-9]+:[0-9]{2}:[0-9]{2}:[0-9]{2}&$")
_LIST_UPTIME = re.compile(r"\?[0-9]+:[0-9]+:[0-9]+:[0-9]+\?(&|$)")


def comparable(frame: wire.Frame) -> tuple:
    """What must be equal: the header (but the data length), group names, the masked body."""
    header = frame.header
    raw_header = frame.raw[:44]
    if not header.type & wire.REGULAR_MESS:
        return raw_header[:36], header.num_groups, tuple(frame.groups)
    body = decode_message(frame.data, header.msg_type)
    body = dataclasses.replace(body, seq_num=0, timestamp=0)
    if body.type == MessageType.STATE_OF_HEALTH_RESPONSE_MSG:
        body = dataclasses.replace(body, data=_SOH_UPTIME.sub("uptime=U&", body.text).encode("latin-1"))
    if body.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG:
        body = dataclasses.replace(body, data=_LIST_UPTIME.sub(r"?U?\1", body.text).encode("latin-1"))
    return raw_header, tuple(frame.group_fields), body


class RecordingRelay:
    """A TCP relay in front of the bus that keeps every byte our mediator sends."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._copy, args=(downstream, upstream, True), daemon=True).start()
            threading.Thread(target=self._copy, args=(upstream, downstream, False), daemon=True).start()

    def _copy(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if record:
                    with self.lock:
                        self.sent += data
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def frames(self) -> list[wire.Frame]:
        with self.lock:
            stream = bytes(self.sent)
        return master_frames(stream) if len(stream) >= HANDSHAKE_BYTES else []

    def close(self) -> None:
        self.listener.close()


class ReplayedClient:
    """One recorded client session, its bytes sent again; whatever arrives is read and dropped."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def step(self, kind: str, data: bytes) -> None:
        if kind == "eof":
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the bus closed it already, after the session's KILL
            return
        self.sock.sendall(data)
        if kind == "connect":
            self._read_exactly(6)  # auth list "NULL "
        elif kind == "auth_choice":
            head = self._read_exactly(5)
            assert head[0] == wire.ACCEPT_SESSION, head
            self._read_exactly(head[4])
            threading.Thread(target=self._drain, daemon=True).start()

    def _read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            assert chunk, "the bus closed a replayed session"
            data += chunk
        return data

    def _drain(self) -> None:
        try:
            while self.sock.recv(1 << 16):
                pass
        except OSError:
            pass
        self.sock.close()


def test_replayed_session_gets_the_recorded_answers(shared_dir, tmp_path_factory):
    traces = shared_dir / "golden" / "sc3" / "traces"
    golden_stream, _ = read_stream(traces / "01_scmaster.trace", "C>S")
    golden = master_frames(golden_stream)
    golden_times = [
        r["t"]
        for r in map(json.loads, (traces / "01_scmaster.frames.jsonl").read_text().splitlines())
        if r["dir"] == "C>S" and r["kind"] == "message"
    ]
    # Times of the kept frames (the own reports are left out as in master_frames).
    parser = wire.MessageParser()
    parser.feed(golden_stream[HANDSHAKE_BYTES:])
    kept_times = [
        t for t, frame in zip(golden_times, parser.frames(), strict=True) if not is_own_report(frame)
    ]
    assert len(kept_times) == len(golden)

    steps = []
    for trace in sorted(traces.glob("[01][0-9]_*.trace")):
        if trace.stem.startswith("01_"):
            continue
        steps += [(t, trace.stem, kind, data) for t, kind, data in units(traces, trace.stem, "C>S")]
    steps.sort(key=lambda step: step[0])

    bus = start_bus(tmp_path_factory)
    relay = RecordingRelay(bus.port)
    mediator = MediatorThread(relay.port, plugins=[DatabaseOffer()], master_settings=settings())
    clients: dict[str, ReplayedClient] = {}
    try:
        mediator.start()
        for t, stem, kind, data in steps:
            expected = sum(1 for sent_at in kept_times if sent_at < t)
            deadline = time.monotonic() + 10
            while len(relay.frames()) < expected:
                assert time.monotonic() < deadline, f"mediator silent before {stem} {kind} at {t}"
                time.sleep(0.005)
            if kind == "connect":
                clients[stem] = ReplayedClient(bus.port)
            clients[stem].step(kind, data)
        deadline = time.monotonic() + 10
        while len(relay.frames()) < sum(1 for sent_at in kept_times if sent_at < 30.2):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        mediator.stop()
        deadline = time.monotonic() + 10
        while len(relay.frames()) < len(golden):
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        mediator.close()
        relay.close()
        bus.stop()

    ours = relay.frames()
    assert len(ours) == len(golden)
    for index, (mine, theirs) in enumerate(zip(ours, golden, strict=True)):
        assert comparable(mine) == comparable(theirs), f"message {index} differs"
    # Sequence numbers: strictly increasing within what the mediator stamped.
    stamped = [
        decode_message(f.data, f.header.msg_type).seq_num
        for f in ours
        if f.header.type & wire.REGULAR_MESS and decode_message(f.data, f.header.msg_type).tagged
    ]
    assert stamped == sorted(stamped) and len(set(stamped)) == len(stamped)


def test_stamping_turns_each_recorded_request_into_the_recorded_relay(shared_dir):
    """Splicing the stamp into what scmaster received gives, byte for byte, what it relayed."""
    traces = shared_dir / "golden" / "sc3" / "traces"
    received = [data for _, kind, data in units(traces, "01_scmaster", "S>C") if kind == "message"]
    sent = master_frames(read_stream(traces / "01_scmaster.trace", "C>S")[0])
    parser = wire.MessageParser(from_daemon=True)
    parser.feed(b"".join(received))
    incoming = {
        f.data: f for f in parser.frames() if f.header.type & wire.REGULAR_MESS and f.header.msg_type > 0
    }
    relayed = [f for f in sent if f.header.msg_type > 0 and f.groups[0][:1] != b"#"]
    assert relayed
    matched = 0
    for frame in relayed:
        body = decode_message(frame.data, frame.header.msg_type)
        unstamped = dataclasses.replace(body, seq_num=0, timestamp=0, tagged=0).encode()
        if unstamped in incoming:
            restamped = scan_data_body(unstamped).stamped(body.seq_num, body.timestamp)
            assert restamped == frame.data
            matched += 1
    assert matched == len(relayed)
