"""The client against a scripted daemon on a real socket: what spreadbusd never sends.

Handshake failures, reject codes and old versions, a big-endian daemon, transitional and
network-caused membership notices, reject messages, corrupt headers and a stream that arrives
one byte at a time. Frames are built here with ``struct`` so that they do not depend on the
codec under test.
"""

import socket
import struct
import threading

import pytest

import spreadbus as spread

TIMEOUT = 10.0
AUTH_LIST = b"\x05NULL "
AUTH_CHOICE = b"NULL".ljust(90, b"\0")
ENDIAN = 0x80000080


def accept_bytes(private_group=b"#alice#localhost", version=(4, 4, 0)):
    return bytes([1, *version, len(private_group)]) + private_group


def name_field(name: bytes) -> bytes:
    return name.ljust(32, b"\0")


def frame(kind, sender, groups=(), data=b"", msg_type=0, order="<", hint=None, extra=b""):
    """A daemon message: header (in ``order``), [reject old type], group fields, data."""
    endian = ENDIAN if order == "<" else 0
    if hint is None:
        hint = struct.pack(order + "I", ((msg_type << 8) & 0xFFFF00) | endian)
    header = struct.pack(order + "I32si4si", kind | endian, name_field(sender), len(groups), hint, len(data))
    return header + extra + b"".join(name_field(g) for g in groups) + data


def membership_body(group_id, vs_sets, my_set=0, order="<"):
    sets = [struct.pack(order + "I", len(s)) + b"".join(name_field(m) for m in s) for s in vs_sets]
    offset = sum(len(s) for s in sets[:my_set])
    return struct.pack(order + "iiiII", *group_id, len(sets), offset) + b"".join(sets)


class Peer(threading.Thread):
    """A daemon that runs ``script(sock)`` on the one connection it accepts."""

    def __init__(self, script):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.address = f"{self.listener.getsockname()[1]}@127.0.0.1"
        self.script = script
        self.failure = None
        self.received = b""

    def run(self):
        try:
            sock, _ = self.listener.accept()
            with sock:
                sock.settimeout(TIMEOUT)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.script(self, sock)
        except BaseException as exc:  # handed to the test thread
            self.failure = exc
        finally:
            self.listener.close()

    def read(self, sock, count):
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            assert chunk, f"client closed after {data.hex()}"
            data += chunk
        self.received += data
        return data

    def rest(self, sock):
        """Everything until the client closes."""
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:  # the client closed with bytes of ours unread
            pass
        return data

    def handshake(self, sock, name=b"alice", accept=None):
        assert self.read(sock, 5 + len(name)) == bytes([4, 4, 0, 1, len(name)]) + name
        sock.sendall(AUTH_LIST)
        assert self.read(sock, 90) == AUTH_CHOICE
        sock.sendall(accept if accept is not None else accept_bytes(b"#%s#localhost" % name))

    def finish(self):
        self.join(TIMEOUT)
        assert not self.is_alive()
        if self.failure is not None:
            raise self.failure


def run_peer(script):
    peer = Peer(script)
    peer.start()
    return peer


def session(then, name=b"alice", accept=None):
    """A peer that completes the handshake, then runs ``then(peer, sock)``."""

    def script(peer, sock):
        peer.handshake(sock, name, accept)
        then(peer, sock)

    return run_peer(script)


def connect(peer, name="alice", **options):
    options.setdefault("timeout", TIMEOUT)
    return spread.connect(peer.address, name, **options)


# --- handshake ------------------------------------------------------------------------------------


def test_daemon_closing_during_the_handshake():
    peer = run_peer(lambda peer, sock: peer.read(sock, 10))
    with pytest.raises(spread.error) as caught:
        connect(peer)
    assert caught.value.args == (spread.CONNECTION_CLOSED, "Connection closed by spread")
    peer.finish()


@pytest.mark.parametrize(
    ("reply", "code", "text"),
    [
        (b"\xfd", spread.REJECT_QUOTA, "Connection rejected, too many users"),
        (b"\xfc", spread.REJECT_NO_NAME, "Connection rejected, no name was supplied"),
        (b"\xf9", spread.REJECT_VERSION, "Connection rejected, library does not fit daemon"),
        (b"\x80", -128, "unrecognized error"),
    ],
)
def test_reject_codes_instead_of_the_auth_list(reply, code, text):
    peer = run_peer(lambda peer, sock: (peer.read(sock, 10), sock.sendall(reply)))
    with pytest.raises(spread.error) as caught:
        connect(peer)
    assert caught.value.args == (code, text)
    peer.finish()


def test_reject_instead_of_the_accept():
    def script(peer, sock):
        peer.read(sock, 10)
        sock.sendall(AUTH_LIST)
        peer.read(sock, 90)
        sock.sendall(b"\xf7")

    peer = run_peer(script)
    with pytest.raises(spread.error) as caught:
        connect(peer)
    assert caught.value.args == (spread.REJECT_AUTH, "Connection rejected, authentication failed")
    peer.finish()


def test_a_daemon_without_the_null_method_is_left_before_the_auth_choice():
    def script(peer, sock):
        peer.read(sock, 10)
        sock.sendall(b"\x04IP  ")
        assert peer.rest(sock) == b""  # no auth choice: the client gives up

    peer = run_peer(script)
    with pytest.raises(spread.error) as caught:
        connect(peer)
    assert caught.value.args == (spread.REJECT_AUTH, "Connection rejected, authentication failed")
    peer.finish()


def test_an_auth_list_longer_than_three_methods_is_refused():
    def script(peer, sock):
        peer.read(sock, 10)
        sock.sendall(bytes([91]) + b"NULL ".ljust(91))
        peer.rest(sock)

    peer = run_peer(script)
    with pytest.raises(spread.error) as caught:
        connect(peer)
    assert caught.value.args[0] == spread.CONNECTION_CLOSED
    peer.finish()


@pytest.mark.parametrize(
    ("version", "priority", "accepted"),
    [((3, 0, 9), 0, False), ((3, 7, 0), 1, False), ((3, 7, 0), 0, True), ((3, 8, 0), 1, True)],
)
def test_old_daemons(version, priority, accepted):
    flags = 0x11 if priority else 0x01

    def script(peer, sock):
        assert peer.read(sock, 10) == bytes([4, 4, 0, flags, 5]) + b"alice"
        sock.sendall(AUTH_LIST)
        peer.read(sock, 90)
        sock.sendall(accept_bytes(version=version))
        peer.rest(sock)

    peer = run_peer(script)
    if accepted:
        connect(peer, priority=priority).disconnect()
    else:
        with pytest.raises(spread.error) as caught:
            connect(peer, priority=priority)
        assert caught.value.args[0] == spread.REJECT_VERSION
    peer.finish()


def test_a_silent_daemon_times_out():
    release = threading.Event()
    peer = run_peer(lambda peer, sock: release.wait(TIMEOUT))
    with pytest.raises(spread.error) as caught:
        connect(peer, timeout=0.05)
    release.set()
    assert caught.value.args[0] == spread.CONNECTION_CLOSED
    peer.finish()


# --- messages -------------------------------------------------------------------------------------


def test_a_message_right_behind_the_accept():
    hello = frame(spread.FIFO_MESS, b"#bob#localhost", [b"#alice#localhost"], b"early", 1)
    peer = session(lambda peer, sock: None, accept=accept_bytes() + hello)
    mailbox = connect(peer)
    assert mailbox.receive(timeout=TIMEOUT) == ("#bob#localhost", ("#alice#localhost",), b"early", 1, 0)
    peer.finish()


def test_a_stream_that_arrives_one_byte_at_a_time():
    body = membership_body((1, 2, 3), [[b"#alice#localhost"]])
    stream = frame(
        spread.REG_MEMB_MESS | spread.CAUSED_BY_JOIN, b"grpA", [b"#alice#localhost"], body
    ) + frame(spread.AGREED_MESS, b"#alice#localhost", [b"grpA"], bytes(range(200)), 77)

    def then(peer, sock):
        for byte in stream:
            sock.sendall(bytes([byte]))
        peer.rest(sock)

    peer = session(then)
    mailbox = connect(peer)
    notice = mailbox.receive(timeout=TIMEOUT)
    assert notice.group_id == spread.GroupId(1, 2, 3)
    assert notice.changed_member == "#alice#localhost"
    assert mailbox.receive(timeout=TIMEOUT) == ("#alice#localhost", ("grpA",), bytes(range(200)), 77, 0)
    mailbox.disconnect()
    peer.finish()


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_a_big_endian_daemon(byteorder):
    """A daemon on a big-endian host writes headers and bodies in its order, endian bits clear."""
    members = [b"#alice#localhost", b"#bob#localhost"]
    body = membership_body((0x7F000001, 1234, 2), [[b"#bob#localhost"]], order=">")
    stream = (
        frame(spread.REG_MEMB_MESS | spread.CAUSED_BY_JOIN, b"grpA", members, body, order=">")
        + frame(spread.FIFO_MESS, b"#bob#localhost", [b"grpA"], b"BE", -5, order=">")
        + frame(
            spread.FIFO_MESS,
            b"#alice#localhost",
            [b"grpA"],
            b"LE hint",
            6,
            order=">",
            hint=b"\x80\x06\x00\x80",
        )
        + frame(spread.CAUSED_BY_LEAVE, b"grpA", order=">")
    )
    peer = session(lambda peer, sock: (sock.sendall(stream), peer.rest(sock)))
    mailbox = connect(peer, byteorder=byteorder)
    notice = mailbox.receive(timeout=TIMEOUT)
    assert notice == spread.MembershipMsgType(
        spread.CAUSED_BY_JOIN,
        "grpA",
        spread.GroupId(0x7F000001, 1234, 2),
        ("#alice#localhost", "#bob#localhost"),
        ("#bob#localhost",),
        spread.REG_MEMB_MESS,
        "#bob#localhost",
    )
    big = int(byteorder == "little")
    assert mailbox.receive(timeout=TIMEOUT) == ("#bob#localhost", ("grpA",), b"BE", -5, big)
    assert mailbox.receive(timeout=TIMEOUT) == ("#alice#localhost", ("grpA",), b"LE hint", 6, 1 - big)
    self_leave = mailbox.receive(timeout=TIMEOUT)
    assert (self_leave.reason, self_leave.msg_subtype, self_leave.members) == (spread.CAUSED_BY_LEAVE, 0, ())
    mailbox.disconnect()
    peer.finish()


def test_transitional_and_network_notices():
    members = [b"#alice#d1", b"#bob#d2", b"#carol#d2"]
    network = membership_body((9, 8, 7), [[b"#alice#d1"], [b"#bob#d2", b"#carol#d2"]], my_set=1)
    stream = frame(spread.TRANSITION_MESS, b"grpA", data=struct.pack("<iii", 9, 8, 6)) + frame(
        spread.REG_MEMB_MESS | spread.CAUSED_BY_NETWORK, b"grpA", members, network
    )
    peer = session(lambda peer, sock: (sock.sendall(stream), peer.rest(sock)), name=b"bob")
    mailbox = connect(peer, "bob")
    transitional = mailbox.receive(timeout=TIMEOUT)
    assert transitional == spread.MembershipMsgType(
        0, "grpA", spread.GroupId(9, 8, 6), (), (), spread.TRANSITION_MESS, None
    )
    regular = mailbox.receive(timeout=TIMEOUT)
    assert regular == spread.MembershipMsgType(
        spread.CAUSED_BY_NETWORK,
        "grpA",
        spread.GroupId(9, 8, 7),
        ("#alice#d1", "#bob#d2", "#carol#d2"),
        ("#bob#d2", "#carol#d2"),
        spread.REG_MEMB_MESS,
        None,
    )
    mailbox.disconnect()
    peer.finish()


def test_a_reject_message_raises_and_the_stream_goes_on():
    old_type = struct.pack("<I", spread.FIFO_MESS | ENDIAN)
    reject = frame(
        spread.REJECT_MESS, b"#alice#localhost", [b"grpA", b"#alice#localhost"], b"denied", 3, extra=old_type
    )
    after = frame(spread.FIFO_MESS, b"#bob#localhost", [b"grpA"], b"after")
    peer = session(lambda peer, sock: (sock.sendall(reject + after), peer.rest(sock)))
    mailbox = connect(peer)
    with pytest.raises(spread.error) as caught:
        mailbox.receive(timeout=TIMEOUT)
    assert caught.value.args == (f"Unknown message type: {spread.FIFO_MESS | spread.REJECT_MESS}",)
    assert mailbox.receive(timeout=TIMEOUT).message == b"after"
    mailbox.disconnect()
    peer.finish()


def test_a_message_of_no_known_kind_raises_and_the_stream_goes_on():
    stream = frame(0, b"#bob#localhost") + frame(spread.FIFO_MESS, b"#bob#localhost", [b"g"], b"next")
    peer = session(lambda peer, sock: (sock.sendall(stream), peer.rest(sock)))
    mailbox = connect(peer)
    with pytest.raises(spread.error, match="Unknown message type: 0"):
        mailbox.receive(timeout=TIMEOUT)
    assert mailbox.receive(timeout=TIMEOUT).message == b"next"
    mailbox.disconnect()
    peer.finish()


def test_a_truncated_membership_body_is_an_illegal_message():
    body = membership_body((1, 2, 3), [[b"#alice#localhost"]])[:30]
    stream = frame(spread.REG_MEMB_MESS | spread.CAUSED_BY_JOIN, b"g", [b"#alice#localhost"], body) + frame(
        spread.FIFO_MESS, b"#bob#localhost", [b"g"], b"next"
    )
    peer = session(lambda peer, sock: (sock.sendall(stream), peer.rest(sock)))
    mailbox = connect(peer)
    with pytest.raises(spread.error) as caught:
        mailbox.receive(timeout=TIMEOUT)
    assert caught.value.args == (spread.ILLEGAL_MESSAGE, "Illegal message")
    assert mailbox.receive(timeout=TIMEOUT).message == b"next"
    mailbox.disconnect()
    peer.finish()


@pytest.mark.parametrize(
    "header",
    [
        struct.pack("<I32si4si", spread.FIFO_MESS | ENDIAN, name_field(b"#b#d"), 1, b"\x80\0\0\x80", -1),
        struct.pack("<I32si4si", spread.FIFO_MESS | ENDIAN, name_field(b"#b#d"), -3, b"\x80\0\0\x80", 0),
        struct.pack(
            "<I32si4si", spread.FIFO_MESS | ENDIAN, name_field(b"#b#d"), 0, b"\x80\0\0\x80", 2**31 - 1
        ),
        struct.pack("<I32si4si", spread.FIFO_MESS | 0x80000000, name_field(b"#b#d"), 0, b"\x80\0\0\x80", 0),
    ],
    ids=["negative data_len", "negative num_groups", "huge data_len", "half the endian bits"],
)
def test_a_corrupt_header_fails_every_later_receive(header):
    peer = session(lambda peer, sock: (sock.sendall(header), peer.rest(sock)))
    mailbox = connect(peer)
    for _ in range(2):
        with pytest.raises(spread.error) as caught:
            mailbox.receive(timeout=TIMEOUT)
        assert caught.value.args == (spread.ILLEGAL_MESSAGE, "Illegal message")
    mailbox.disconnect()
    peer.finish()


def test_sending_to_a_vanished_daemon():
    def then(peer, sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST

    peer = session(then)
    mailbox = connect(peer)
    peer.finish()
    with pytest.raises(spread.error) as caught:
        for _ in range(1000):
            mailbox.multicast(spread.FIFO_MESS, "g", bytes(1000))
    assert caught.value.args == (spread.CONNECTION_CLOSED, "Connection closed by spread")
    with pytest.raises(spread.error, match=r"multicast\(\) called on closed mbox"):
        mailbox.multicast(spread.FIFO_MESS, "g", b"")


def test_what_the_client_writes():
    """Header fields in the chosen byte order; KILL names the private group; nothing after it."""

    def then(peer, sock):
        peer.received = b""
        peer.frames = peer.rest(sock)

    peer = session(then)
    mailbox = connect(peer, byteorder="big")
    mailbox.join("grpA")
    mailbox.multicast(spread.SAFE_MESS | spread.SELF_DISCARD, "x" * 40, b"data", -2)
    mailbox.multigroup_multicast(spread.FIFO_MESS, ("a", "b" * 32), b"")
    mailbox.leave("grpA")
    mailbox.disconnect()
    peer.finish()
    me = name_field(b"#alice#localhost")
    assert peer.frames == (
        struct.pack(">I32si4si", 0x00010000, me, 1, bytes(4), 0)
        + name_field(b"grpA")
        + struct.pack(">I32si4si", 0x60, me, 1, b"\x00\xff\xfe\x00", 4)
        + name_field(b"x" * 31)
        + b"data"
        + struct.pack(">I32si4si", 0x04, me, 2, bytes(4), 0)
        + name_field(b"a")
        + b"b" * 32
        + struct.pack(">I32si4si", 0x00020000, me, 1, bytes(4), 0)
        + name_field(b"grpA")
        + struct.pack(">I32si4si", 0x00040000, me, 1, bytes(4), 0)
        + me
    )


def test_disconnect_does_not_wait_for_a_stuck_writer():
    release = threading.Event()
    peer = session(lambda peer, sock: release.wait(TIMEOUT))  # never reads: the client's writes stall
    mailbox = connect(peer)
    writing = threading.Event()
    outcome = []

    def write():
        writing.set()
        try:
            while True:
                mailbox.multicast(spread.FIFO_MESS, "g", bytes(1 << 20))
        except spread.error as exc:
            outcome.append(exc.args)

    writer = threading.Thread(target=write)
    writer.start()
    assert writing.wait(TIMEOUT)
    closer = threading.Thread(target=mailbox.disconnect)
    closer.start()
    closer.join(TIMEOUT)
    writer.join(TIMEOUT)
    release.set()
    assert not closer.is_alive() and not writer.is_alive()
    assert outcome in (
        [(spread.CONNECTION_CLOSED, "Connection closed by spread")],
        [("multicast() called on closed mbox",)],
    )
    peer.finish()


def test_names_must_be_text_or_bytes():
    peer = session(lambda peer, sock: setattr(peer, "frames", peer.rest(sock)))
    mailbox = connect(peer, byteorder="little")
    for call in (mailbox.join, mailbox.leave, lambda group: mailbox.multicast(spread.FIFO_MESS, group, b"")):
        with pytest.raises(TypeError):
            call(5)
        with pytest.raises(ValueError, match="embedded null"):
            call("a\0b")
    mailbox.join(b"bytes-too")
    mailbox.disconnect()
    peer.finish()
    join = struct.pack(
        "<I32si4si", 0x00010000 | ENDIAN, name_field(b"#alice#localhost"), 1, b"\x80\0\0\x80", 0
    )
    assert peer.frames.startswith(join + name_field(b"bytes-too"))  # nothing went out for the bad names
