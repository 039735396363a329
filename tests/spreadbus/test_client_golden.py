"""The pure-Python client against the golden traces: a scripted peer plays the real daemon.

For every connection of a trace that the real libspread made (it has an ``SP_connect``
record), a peer on a real socket (TCP on 127.0.0.1, or the unix socket ``/tmp/<port>`` for
trace 24) plays the daemon's side: it reads what the client sends and compares it with the
recorded ``C>D`` frames, and writes the recorded ``D>C`` frames once the frames listed before
them have arrived. The test drives ``spreadbus.client`` with the recorded ``# API`` calls and
checks that every call returns what libspread returned.

Masked: bytes after the NUL of a name field (libspread's KILL carries stack garbage there,
our client zeros).
"""

import os
import socket
import struct
import threading

import pytest

from spreadbus import client, wire
from tests.conftest import SHARED
from tests.spreadbus.conftest import parse_trace

TIMEOUT = 10.0
TRACES = {p.stem: parse_trace(p) for p in sorted((SHARED / "golden" / "spread").glob("[0-9][0-9]_*.txt"))}
SERVICES = {
    "UNRELIABLE": wire.UNRELIABLE_MESS,
    "RELIABLE": wire.RELIABLE_MESS,
    "FIFO": wire.FIFO_MESS,
    "CAUSAL": wire.CAUSAL_MESS,
    "AGREED": wire.AGREED_MESS,
    "SAFE": wire.SAFE_MESS,
    "SELF_DISCARD": wire.SELF_DISCARD,
}
CAUSES = wire.CAUSED_BY_JOIN | wire.CAUSED_BY_LEAVE | wire.CAUSED_BY_DISCONNECT | wire.CAUSED_BY_NETWORK


def library_connections():
    """(trace, connection) of every connection the real library made."""
    for trace, items in TRACES.items():
        for conn in dict.fromkeys(i.conn for i in items if i.kind == "API" and i.api == "SP_connect"):
            yield pytest.param(trace, conn, id=f"{trace}-{conn}")


def masked(frame: bytes) -> bytes:
    """A client message with every name field cut at its first NUL (the rest zeroed)."""
    out = bytearray(frame)
    header = wire.unpack_header(frame)
    fields = [4] + [wire.HEADER_LEN + 32 * i for i in range(header.num_groups)]
    for start in fields:
        end = out.find(b"\0", start, start + 32)
        if end >= 0:
            out[end : start + 32] = bytes(start + 32 - end)
    return bytes(out)


def peer_steps(items, conn):
    """What the daemon side does: ('expect', bytes, is_message), ('send', bytes), ('shut',), ('eof',)."""
    steps = []
    handshake_units = 2  # the connect message and the auth choice come before any message
    for item in items:
        if item.conn != conn or item.kind not in ("C>D", "D>C"):
            continue
        if item.kind == "C>D":
            if item.eof:
                steps.append(("eof",))
            else:
                steps.append(("expect", item.data, handshake_units <= 0))
                handshake_units -= 1
        elif item.eof:
            steps.append(("shut",))
        else:
            steps.append(("send", item.data))
    return steps


class ScriptedDaemon(threading.Thread):
    """Accepts one connection and plays the daemon's side of it."""

    def __init__(self, listener, steps):
        super().__init__(daemon=True)
        self.listener = listener
        self.steps = steps
        self.failure = None

    def run(self):
        try:
            sock, _ = self.listener.accept()
        except OSError as exc:
            self.failure = exc
            return
        with sock:
            sock.settimeout(TIMEOUT)
            try:
                for step in self.steps:
                    self.play(sock, step)
            except BaseException as exc:  # handed to the test thread
                self.failure = exc

    @staticmethod
    def play(sock, step):
        if step[0] == "send":
            sock.sendall(step[1])
        elif step[0] == "shut":
            sock.shutdown(socket.SHUT_WR)
        elif step[0] == "eof":
            try:
                rest = sock.recv(65536)
            except ConnectionResetError:
                rest = b""
            assert rest == b"", f"expected the client to close, got {rest.hex()}"
        else:
            expected, is_message = step[1], step[2]
            got = b""
            while len(got) < len(expected):
                chunk = sock.recv(len(expected) - len(got))
                assert chunk, f"client closed; expected {expected.hex()}, got {got.hex()}"
                got += chunk
            if is_message:
                got, expected = masked(got), masked(expected)
            assert got.hex() == expected.hex()


def names_in(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode()


def check_receive(message, record):
    kind = record["service_type"]
    data = bytes.fromhex(record["data_hex"])
    if wire.is_regular(kind):
        assert isinstance(message, client.RegularMsg)
        assert message.sender == record["sender"]
        assert message.groups == tuple(record["groups"])
        assert message.message == data
        assert message.msg_type == record["mess_type"]
        assert message.endian == record["endian_mismatch"]
        return
    assert isinstance(message, client.MembershipMsg)
    assert message.group == record["sender"]
    assert message.members == tuple(record["groups"])
    assert message.reason == kind & CAUSES
    assert message.msg_subtype == kind & (wire.REG_MEMB_MESS | wire.TRANSITION_MESS)
    if kind & wire.REG_MEMB_MESS:
        assert message.group_id == client.GroupId(*struct.unpack_from("<iii", data))
        num_sets, offset, count = struct.unpack_from("<III", data, 12)
        assert (num_sets, offset, count) == (1, 0, 1)
        changed = names_in(data[24:56])
        assert message.changed_member == changed
        assert message.extra == (changed,)
    else:  # the self-leave notice
        assert kind == wire.CAUSED_BY_LEAVE
        assert message.members == message.extra == ()
        assert message.changed_member is None


def perform(mailbox, record, address):
    """Make the recorded call with the client; return the new mailbox for SP_connect."""
    call, args = record.api, record.api_args
    if call == "SP_connect":
        _, name, priority, membership = args["args"]
        try:
            mailbox = client.connect(address, name, priority, membership, timeout=TIMEOUT)
        except client.error as exc:
            assert exc.args == (args["ret"], wire.ERROR_TEXTS[args["ret"]])
            return None
        assert args["ret"] == wire.ACCEPT_SESSION
        assert mailbox.private_group == args["private_group"]
        return mailbox
    if call == "SP_join":
        assert mailbox.join(*args["args"]) is None
    elif call == "SP_leave":
        assert mailbox.leave(*args["args"]) is None
    elif call in ("SP_multicast", "SP_multigroup_multicast"):
        service, groups, msg_type, data_hex = args["args"]
        bits = 0
        for part in service.split("|"):
            bits |= SERVICES[part]
        if call == "SP_multicast":
            sent = mailbox.multicast(bits, groups, bytes.fromhex(data_hex), msg_type)
        else:
            sent = mailbox.multigroup_multicast(bits, tuple(groups), bytes.fromhex(data_hex), msg_type)
        assert sent == args["ret"]
    elif call == "SP_receive":
        check_receive(mailbox.receive(timeout=TIMEOUT), args)
    elif call == "SP_disconnect":
        assert mailbox.disconnect() is None
    elif call.startswith("close(fd)"):
        mailbox._shut()  # the process ends without SP_disconnect: the socket just closes
    else:
        raise AssertionError(f"unexpected record {call}")
    return mailbox


@pytest.fixture
def reserved_port():
    """A port number nobody else uses while the test runs (held as a bound TCP socket)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.mark.parametrize(("trace", "conn"), list(library_connections()))
def test_client_speaks_like_libspread(trace, conn, reserved_port):
    items = TRACES[trace]
    kind = next(i.api for i in items if i.conn == conn and i.kind == "OPEN")
    if kind == "unix":
        path = f"{wire.UNIX_SOCKET_DIR}/{reserved_port}"
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        address = str(reserved_port)  # libspread's "<port>" form: the unix socket /tmp/<port>
    else:
        path = None
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        address = f"{listener.getsockname()[1]}@127.0.0.1"
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    peer = ScriptedDaemon(listener, peer_steps(items, conn))
    peer.start()
    mailbox = None
    try:
        for record in items:
            if record.conn == conn and record.kind == "API":
                mailbox = perform(mailbox, record, address)
        peer.join(TIMEOUT)
        assert not peer.is_alive(), "the peer still waits for bytes from the client"
        if peer.failure is not None:
            raise peer.failure
    finally:
        listener.close()
        if path:
            os.unlink(path)
