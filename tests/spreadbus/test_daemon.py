"""spreadbusd over real sockets: membership, delivery, validation, limits, transports."""

import os
import socket
import stat
import struct

import pytest

from spreadbus import wire
from spreadbus.daemon import SOCKET_BUFFER
from tests.spreadbus.sockets import read_to_end


def memb(frame):
    """(cause bits, group, members, changed member) of a regular membership frame."""
    h = frame.header
    assert h.type & wire.REG_MEMB_MESS, f"not a regular membership message: {frame!r}"
    body = wire.decode_membership(frame.data)
    return h.type & ~wire.REG_MEMB_MESS, h.sender_name, frame.groups, body.changed_member


# --- membership -------------------------------------------------------------------------------


def test_membership_lists_sorted_and_only_for_those_who_asked(raw_client):
    carol = raw_client("carol")
    bob = raw_client("bob")
    alice = raw_client("alice")
    quiet = raw_client("quiet", membership=False)
    for client in (carol, bob, alice, quiet):
        client.join("grp")
        client.sync()
    everyone = [b"#alice#localhost", b"#bob#localhost", b"#carol#localhost", b"#quiet#localhost"]
    assert memb(carol.receive()) == (wire.CAUSED_BY_JOIN, b"grp", [b"#carol#localhost"], b"#carol#localhost")
    assert memb(carol.receive())[2] == [b"#bob#localhost", b"#carol#localhost"]
    assert memb(carol.receive())[2] == everyone[:3]
    joined = carol.receive()
    assert memb(joined) == (wire.CAUSED_BY_JOIN, b"grp", everyone, b"#quiet#localhost")
    assert wire.decode_membership(joined.data).group_id.index == 4
    # alice saw her own join and quiet's; quiet never sees any notice
    assert [memb(alice.receive())[3] for _ in range(2)] == [b"#alice#localhost", b"#quiet#localhost"]
    quiet.send(wire.FIFO_MESS, ["grp"], b"data")
    frame = quiet.receive()
    assert frame.header.type == wire.FIFO_MESS and frame.data == b"data"

    for client in (carol, bob):
        client.sync()
        while client.pending():
            client.receive()
    bob.leave("grp")
    assert bob.receive().raw == wire.encode_self_leave("grp")
    cause, _, members, changed = memb(carol.receive())
    assert (cause, changed) == (wire.CAUSED_BY_LEAVE, b"#bob#localhost")
    assert members == [b"#alice#localhost", b"#carol#localhost", b"#quiet#localhost"]

    alice.disconnect()
    quiet.sock.close()  # abrupt: no KILL
    carol.sync()
    # carol got the data message, then the two disconnect notices in that order
    notices = []
    while len(notices) < 2:
        frame = carol.receive()
        if frame.header.type & wire.REG_MEMB_MESS:
            notices.append(memb(frame))
    assert notices[0][0] == notices[1][0] == wire.CAUSED_BY_DISCONNECT
    assert [n[3] for n in notices] == [b"#alice#localhost", b"#quiet#localhost"]
    assert notices[1][2] == [b"#carol#localhost"]
    bob.sync()  # bob hears nothing more of grp
    assert not bob.pending()


def test_group_index_restarts_for_a_recreated_group(raw_client):
    a = raw_client("a")
    a.join("g")
    assert wire.decode_membership(a.receive().data).group_id.index == 1
    a.leave("g")
    assert wire.is_self_leave(a.receive().header.type)
    a.join("g")
    assert wire.decode_membership(a.receive().data).group_id.index == 1


def test_two_hundred_concurrent_clients(spreadbusd, raw_client, RawClient):
    observer = raw_client("observer")
    observer.join("crowd")
    observer.receive()
    clients = [RawClient.connect(spreadbusd, f"c{i:03d}", membership=False) for i in range(200)]
    try:
        for client in clients:
            client.join("crowd")
        for client in clients:
            client.sync()
        for i in range(200):
            cause, _, members, changed = memb(observer.receive())
            assert cause == wire.CAUSED_BY_JOIN and len(members) == i + 2
        assert members == sorted(members)
        clients[0].send(wire.AGREED_MESS, ["crowd"], b"to all", 3)
        for client in clients:
            frame = client.receive()
            assert frame.data == b"to all" and frame.header.sender_name == b"#c000#localhost"
        assert observer.receive().data == b"to all"
        for client in clients[::2]:
            client.sock.close()  # abrupt closes of half the crowd
        gone = set()
        for _ in range(100):
            cause, _, members, changed = memb(observer.receive())
            assert cause == wire.CAUSED_BY_DISCONNECT and changed not in members
            gone.add(changed)
        assert gone == {c.private_group for c in clients[::2]}
        assert len(members) == 101
    finally:
        for client in clients:
            client.close()


def test_every_member_sees_one_total_order(raw_client):
    a, b, c = raw_client("a"), raw_client("b"), raw_client("c", membership=False)
    for client in (a, b, c):
        client.join("order")
        client.sync()
    for i in range(50):  # both send without waiting: the daemon decides the order
        a.send(wire.AGREED_MESS, ["order"], b"a%d" % i)
        b.send(wire.SAFE_MESS, ["order"], b"b%d" % i)

    def data_seen(client):
        seen = []
        while len(seen) < 100:
            frame = client.receive()
            if wire.is_regular(frame.header.type) and frame.header.msg_type != 0x7FFF:
                seen.append(frame.data)
        return seen

    sequences = [data_seen(x) for x in (a, b, c)]
    assert sequences[0] == sequences[1] == sequences[2]
    assert [d for d in sequences[0] if d[:1] == b"a"] == [b"a%d" % i for i in range(50)]  # FIFO per sender


# --- delivery ---------------------------------------------------------------------------------


def test_multigroup_private_and_self_discard(raw_client):
    a, b, c = raw_client("a", membership=False), raw_client("b", membership=False), raw_client("c")
    a.join("g1")
    b.join("g1")
    b.join("g2")
    c.join("g2")
    for x in (a, b, c):
        x.sync()
    while c.pending():
        c.receive()
    groups = ["g1", "g2", "#c#localhost", "#nobody#localhost", "#a#otherdaemon", "empty"]
    a.send(wire.FIFO_MESS | wire.SELF_DISCARD, groups, b"multi", 11)
    for x in (b, c):
        frame = x.receive()
        assert frame.header.type == wire.FIFO_MESS | wire.SELF_DISCARD
        assert frame.groups == [g.encode() for g in groups] and frame.data == b"multi"
    a.send(wire.RELIABLE_MESS, ["#b#localhost"], b"direct")
    assert b.receive().data == b"direct"
    for x in (a, b, c):
        x.sync()  # exactly one copy each, nothing for the self-discarding sender
        assert not x.pending()


def test_one_hundred_groups_is_the_limit(raw_client):
    a = raw_client("a", membership=False)
    groups = [f"g{i}" for i in range(100)]
    a.join("g99")
    a.send(wire.FIFO_MESS, groups, b"x" * 10)
    assert a.receive().groups == [g.encode() for g in groups]
    a.sock.sendall(wire.encode_message(wire.FIFO_MESS, a.private_group, groups + ["g100"], b"x"))
    assert a.expect_closed() == b""


def test_big_endian_client_both_directions(spreadbusd, raw_client, RawClient):
    le = raw_client("le")
    be = RawClient.connect(spreadbusd, "be", byteorder=wire.BIG)
    try:
        le.join("mixed")
        le.receive()
        be.join("mixed")
        notice = be.receive()  # the daemon always writes little-endian
        assert notice.header.byteorder == wire.LITTLE and memb(notice)[3] == b"#be#localhost"
        le.receive()
        be.send(wire.FIFO_MESS, ["mixed"], b"from BE", -2)
        for client in (le, be):
            frame = client.receive()
            assert frame.header.byteorder == wire.LITTLE and frame.header.data_len == 7
            assert frame.header.hint == wire.encode_hint(-2, wire.BIG)  # relayed as sent
            assert wire.decode_hint(frame.header.hint) == (-2, wire.BIG)
        le.send(wire.FIFO_MESS, ["mixed"], b"from LE", 5)
        assert be.receive().header.hint == wire.encode_hint(5, wire.LITTLE)
        assert le.receive().data == b"from LE"
        be.disconnect()
        cause, _, members, changed = memb(le.receive())
        assert cause == wire.CAUSED_BY_DISCONNECT
        assert changed == b"#be#localhost" and members == [b"#le#localhost"]
    finally:
        be.close()


def test_unix_socket_same_protocol_and_cleanup(spreadbusd_factory, tmp_path, RawClient):
    daemon = spreadbusd_factory(unix_dir=str(tmp_path))
    path = tmp_path / str(daemon.port)
    assert stat.S_ISSOCK(os.stat(path).st_mode) and stat.S_IMODE(os.stat(path).st_mode) == 0o666
    client = RawClient.connect(daemon, "viaunix", unix=True)
    tcp = RawClient.connect(daemon, "viatcp")
    client.join("u")
    client.receive()
    tcp.join("u")
    tcp.receive()
    client.receive()
    tcp.send(wire.FIFO_MESS, ["u"], b"over tcp")
    assert client.receive().data == b"over tcp"
    client.close()
    tcp.close()
    daemon.stop()
    assert not path.exists()


def test_stale_unix_socket_is_replaced(spreadbusd_factory, tmp_path, RawClient):
    first = spreadbusd_factory(unix_dir=str(tmp_path))
    port = first.port
    first.stop()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / str(port)))  # left behind by a killed daemon
    stale.close()
    second = spreadbusd_factory(unix_dir=str(tmp_path), port=port)
    RawClient.connect(second, "after", unix=True).close()


# --- handshake --------------------------------------------------------------------------------


def test_names_unique_until_disconnect_and_invented_names(spreadbusd, raw_client):
    a = raw_client("same")
    with socket.create_connection(("127.0.0.1", spreadbusd.port)) as dup:
        dup.sendall(wire.encode_connect("same"))
        assert dup.recv(10) == b"\xfa"
    a.disconnect()
    b = raw_client("same")  # the name is free again
    assert b.private_group == b"#same#localhost"
    invented = {raw_client("").private_group for _ in range(30)}
    assert len(invented) == 30
    for name in invented:
        private, daemon = wire.split_private_group(name)
        assert private.startswith(b"r") and len(private) <= 9 and daemon == b"localhost"


def test_old_client_skips_authentication(spreadbusd, RawClient):
    with socket.create_connection(("127.0.0.1", spreadbusd.port), timeout=5) as sock:
        sock.sendall(wire.encode_connect("old", version=(3, 15, 1)))
        assert sock.recv(100) == wire.encode_accept(b"#old#localhost", with_patch_byte=True)
    with socket.create_connection(("127.0.0.1", spreadbusd.port), timeout=5) as sock:
        sock.sendall(wire.encode_connect("older", version=(3, 1, 0)))
        reply = b""
        while len(reply) < 20:
            reply += sock.recv(100)
        assert reply == wire.encode_accept(b"#older#localhost", with_patch_byte=False)
        sock.sendall(wire.encode_message(wire.JOIN_MESS, b"#older#localhost", ["g"]))
        assert RawClient(sock, b"#older#localhost").receive().groups == [b"#older#localhost"]


def test_session_quota(spreadbusd_factory, RawClient):
    daemon = spreadbusd_factory(max_sessions=2)
    a = RawClient.connect(daemon, "a")
    b = RawClient.connect(daemon, "b")
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as third:
        assert third.recv(10) == b"\xfd"
    a.disconnect()
    b.sync()
    RawClient.connect(daemon, "c").close()
    b.close()


def test_silent_and_stalled_handshakes_are_dropped(spreadbusd_factory, RawClient):
    daemon = spreadbusd_factory(accept_timeout=0.2, auth_timeout=0.2)
    silent = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    half = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    half.sendall(wire.encode_connect("half")[:4])
    stalled = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    stalled.sendall(wire.encode_connect("stall"))
    assert stalled.recv(6) == wire.encode_auth_list()
    for sock in (silent, half):
        assert sock.recv(10) == b""
        sock.close()
    assert stalled.recv(10) == b"\xf7"  # REJECT_AUTH, as for a short auth choice
    stalled.close()
    RawClient.connect(daemon, "stall").close()  # its name was released


@pytest.mark.parametrize(
    "connect, reply",
    [
        (b"\x04\x04\x00\x01\x03a\x00b", b"\xfb"),  # NUL in name
        (b"\x04\x04\x00\x01\x02\xc3\xa9", b"\xfb"),  # non-ASCII
        (b"\x04\x04\x00\x01\xff", b"\xfb"),  # negative length
        (b"\x03\x00\x01\x0b" + b"x" * 11, b"\xf9"),  # version first, then length
        (b"\x04\x04\x00\x01\x01a" + bytes(90), b"\xfb"),  # auth choice pipelined
    ],
)
def test_connect_rejects(spreadbusd, connect, reply):
    with socket.create_connection(("127.0.0.1", spreadbusd.port), timeout=5) as sock:
        sock.sendall(connect)
        assert sock.recv(10) == reply
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass


def test_auth_choice_with_unknown_second_method(spreadbusd):
    with socket.create_connection(("127.0.0.1", spreadbusd.port), timeout=5) as sock:
        sock.sendall(wire.encode_connect("x"))
        assert sock.recv(6) == b"\x05NULL "
        sock.sendall(wire.encode_auth_choice(["NULL", "IP"]))
        assert sock.recv(10) == b"\xf7"


# --- validation -------------------------------------------------------------------------------


def header(client, type_bits, num_groups=1, data_len=0, hint=None, sender=None):
    return wire.pack_header(
        type_bits,
        sender or client.private_group,
        num_groups,
        hint or wire.encode_hint(0),
        data_len,
    )


BAD_MESSAGES = {
    "no service bit": lambda c: header(c, 0) + wire.encode_name("g"),
    "join and fifo": lambda c: header(c, wire.JOIN_MESS | wire.FIFO_MESS) + wire.encode_name("g"),
    "reject bit": lambda c: header(c, wire.FIFO_MESS | wire.REJECT_MESS) + wire.encode_name("g"),
    "foreign sender": lambda c: header(c, wire.FIFO_MESS, sender="#other#localhost") + wire.encode_name("g"),
    "other daemon": lambda c: (
        header(c, wire.FIFO_MESS, sender=c.private_group + b"x") + wire.encode_name("g")
    ),
    "hint bits": lambda c: header(c, wire.FIFO_MESS, hint=b"\x81\x00\x00\x80") + wire.encode_name("g"),
    "negative groups": lambda c: header(c, wire.FIFO_MESS, num_groups=-1),
    "negative data": lambda c: header(c, wire.FIFO_MESS, data_len=-1) + wire.encode_name("g"),
    "too large": lambda c: header(c, wire.FIFO_MESS, data_len=wire.MAX_MESSAGE_BODY_LEN - 40),
    "mixed endian bits": lambda c: (
        b"\x84\x00\x00\x00" + header(c, wire.FIFO_MESS)[4:] + wire.encode_name("g")
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_invalid_message_drops_only_that_session(raw_client, case):
    watcher = raw_client("watcher")
    bad = raw_client("bad")
    watcher.join("g")
    watcher.receive()
    bad.join("g")
    watcher.receive()
    message = BAD_MESSAGES[case](bad)
    bad.sock.sendall(message)
    assert wire.unpack_header(bad.receive().raw).type & wire.CAUSED_BY_JOIN  # its own join notice
    # Spread reads the header, judges it, closes: a body left unread resets the connection
    assert read_to_end(bad.sock) == (b"", "reset" if len(message) > wire.HEADER_LEN else "closed")
    cause, _, members, changed = memb(watcher.receive())
    assert (cause, changed, members) == (
        wire.CAUSED_BY_DISCONNECT,
        b"#bad#localhost",
        [b"#watcher#localhost"],
    )
    watcher.sync()


def test_stray_type_bits_are_relayed_as_spread_does(raw_client):
    a = raw_client("a", membership=False)
    a.join("g")
    odd = wire.FIFO_MESS | wire.DROP_RECV | 0x4000 | wire.CAUSED_BY_JOIN
    a.send(odd, ["g"], b"odd")
    frame = a.receive()
    assert frame.header.type == odd and frame.data == b"odd" and wire.is_regular(frame.header.type)


def test_fragmented_messages_are_reassembled(raw_client):
    a = raw_client("frag", membership=False)
    a.join("g")
    message = wire.encode_message(wire.FIFO_MESS, a.private_group, ["g"], bytes(range(200)), 9)
    a.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(message)):
        a.sock.send(message[i : i + 1])
    assert a.receive().raw == message


# --- slow receivers and hostile neighbours ------------------------------------------------------


def test_client_sockets_get_the_options_spread_sets(spreadbusd, raw_client):
    raw_client("tcp")
    raw_client("unix", unix=True)

    def options():
        found = {}
        for connection in spreadbusd.daemon._connections:
            sock = connection.transport.get_extra_info("socket")
            values = [sock.getsockopt(socket.SOL_SOCKET, o) for o in (socket.SO_SNDBUF, socket.SO_RCVBUF)]
            if sock.family == socket.AF_INET:
                values += [
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                ]
            found[connection.kind] = values
        return found

    found = spreadbusd.call(options)
    assert sorted(found) == ["tcp", "unix"]
    # 200 KiB each way (Linux reports twice the figure), not the kernel's self-tuned buffers
    for kind, values in found.items():
        assert all(SOCKET_BUFFER <= size <= 2 * SOCKET_BUFFER for size in values[:2]), kind
    assert all(found["tcp"][2:])


def test_slow_receiver_is_dropped_at_the_queue_limit(spreadbusd_factory, RawClient):
    daemon = spreadbusd_factory(max_session_messages=1000)
    watcher = RawClient.connect(daemon, "watcher")
    fast = RawClient.connect(daemon, "fast", membership=False)
    slow_sock = socket.socket()
    slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow_sock.connect(("127.0.0.1", daemon.port))
    slow_sock.sendall(wire.encode_connect("slow"))
    assert slow_sock.recv(6) == wire.encode_auth_list()
    slow_sock.sendall(wire.encode_auth_choice())
    assert slow_sock.recv(100) == wire.encode_accept(b"#slow#localhost")
    sender = RawClient.connect(daemon, "sender", membership=False)
    for client in (watcher, fast):
        client.join("flood")
    slow_sock.sendall(wire.encode_message(wire.JOIN_MESS, b"#slow#localhost", ["flood"]))
    watcher.sync()
    fast.sync()
    for _ in range(3):
        watcher.receive()

    largest_queue = []

    def queued():
        return max((len(c.queue) for c in daemon.daemon._connections), default=0)

    payload = bytes(1024)
    batch = wire.encode_message(wire.FIFO_MESS, sender.private_group, ["flood"], payload) * 100
    count = 0
    dropped = None
    while dropped is None and count < 40000:
        sender.sock.sendall(batch)
        count += 100
        for _ in range(100):  # the fast member keeps up
            assert fast.receive().data == payload
        for _ in range(100):
            frame = watcher.receive()
            if frame.header.type & wire.REG_MEMB_MESS:
                dropped = memb(frame)
                break
        largest_queue.append(daemon.call(queued))
    assert dropped is not None, "the slow receiver was never dropped"
    assert dropped[0] == wire.CAUSED_BY_DISCONNECT and dropped[3] == b"#slow#localhost"
    assert max(largest_queue) <= 1000  # bounded: never more than the limit waits in the daemon
    assert daemon.call(queued) == 0
    # the slow one can read what reached its socket, then the connection ends
    slow_sock.settimeout(5)
    leftovers = b""
    try:
        while chunk := slow_sock.recv(1 << 20):
            leftovers += chunk
    except ConnectionResetError:
        pass
    slow_sock.close()
    sender.send(wire.FIFO_MESS, ["flood"], b"after")
    while (frame := fast.receive()).data != b"after":
        assert frame.data == payload


def test_garbage_connections_never_disturb_others(spreadbusd, raw_client):
    a = raw_client("a", membership=False)
    b = raw_client("b", membership=False)
    b.join("stream")
    b.sync()
    garbage = [socket.create_connection(("127.0.0.1", spreadbusd.port)) for _ in range(3)]
    g4 = raw_client("g4", membership=False)  # an established session that turns hostile
    rng = __import__("random").Random(7)
    for i in range(300):
        a.send(wire.FIFO_MESS, ["stream"], struct.pack("<I", i) * 64)
        if i % 50 == 0:
            for sock in garbage:
                try:
                    sock.sendall(rng.randbytes(rng.randint(1, 3000)))
                except OSError:
                    pass
            try:
                g4.sock.sendall(rng.randbytes(100))
            except OSError:
                pass
    for i in range(300):
        frame = b.receive()
        assert frame.header.sender_name == b"#a#localhost" and frame.data == struct.pack("<I", i) * 64
    for sock in garbage:
        sock.close()
    assert g4.expect_closed() == b""
