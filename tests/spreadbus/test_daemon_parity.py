"""Spread's behaviour at the edges of the protocol, over raw sockets.

Every test runs against spreadbusd and, when ``SPREADBUS_REAL_DAEMON`` names a Spread 4.4
``spread`` binary, against that real daemon too (skipped otherwise), with the same
assertions: what a client sees when its handshake is cut short, how a connection ends when
the daemon drops it (an orderly close, or a reset when the daemon leaves client bytes
unread), which odd JOIN/LEAVE messages a session survives, and when a member that does not
read is dropped. One daemon of each kind serves the whole module; every test uses names of
its own.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from spreadbus import wire
from spreadbus.daemon import ThreadedDaemon
from tests.spreadbus.sockets import RawClient, read_to_end

REAL_DAEMON = os.environ.get("SPREADBUS_REAL_DAEMON")
TIMEOUT = 10.0
_serial = itertools.count()


def fresh(prefix: str) -> str:
    """A private name no session of the module had (Spread frees a name only once the
    session's end has gone round its ring)."""
    return f"{prefix}{next(_serial)}"


@dataclass(frozen=True)
class Endpoint:
    kind: str
    port: int
    unix_path: str | None = None


def _free_spread_port() -> int:
    """A TCP port whose successor is free for UDP and whose /tmp/<port> does not exist."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if port >= 65000 or os.path.exists(f"/tmp/{port}"):
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


def _wait_until_it_delivers(endpoint: Endpoint, process: subprocess.Popen) -> None:
    """Spread accepts sessions before its ring is formed but delivers nothing until then."""
    deadline = time.monotonic() + 30
    for attempt in range(1000):
        assert process.poll() is None, "the real spread daemon exited"
        probe = RawClient.connect(endpoint, f"probe{attempt}", timeout=0.5)
        try:
            probe.join("probe")
            probe.receive()
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
        finally:
            probe.close()
    raise AssertionError("the real spread daemon never delivered")


@pytest.fixture(scope="module", params=["spreadbusd", "spread"])
def daemon(request, tmp_path_factory):
    if request.param == "spreadbusd":
        threaded = ThreadedDaemon(unix_dir=str(tmp_path_factory.mktemp("parity-unix"))).start()
        yield Endpoint("spreadbusd", threaded.port)
        threaded.stop()
        return
    if not REAL_DAEMON:
        pytest.skip("set SPREADBUS_REAL_DAEMON to a Spread 4.4 daemon binary to compare with it")
    port = _free_spread_port()
    rundir = Path(tempfile.mkdtemp(prefix="spread-parity-"))
    rundir.chmod(0o755)
    conf = rundir / "spread.conf"
    conf.write_text(
        f"Spread_Segment 127.0.0.255:{port} {{\n  localhost 127.0.0.1 {{\n    D 127.0.0.1\n"
        "    C 127.0.0.1\n  }\n}\nEventPriority = WARNING\n"
    )
    conf.chmod(0o644)
    command = [REAL_DAEMON, "-n", "localhost", "-c", str(conf)]
    if os.geteuid() == 0:
        # as root the daemon would chroot and switch to a "spread" user; run it unprivileged
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    process = subprocess.Popen(command, cwd=rundir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    endpoint = Endpoint("spread", port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "spread did not start"
                time.sleep(0.05)
        _wait_until_it_delivers(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(rundir, ignore_errors=True)


def raw_socket(endpoint: Endpoint, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", endpoint.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def to_auth_stage(endpoint: Endpoint, name: str) -> socket.socket:
    """A connection that has sent its connect message and read the auth list."""
    sock = raw_socket(endpoint)
    sock.sendall(wire.encode_connect(name))
    assert recv_exactly(sock, 6) == wire.encode_auth_list()
    return sock


# --- the connect message ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "connect, ending",
    [
        # fewer name bytes than declared ("al" of 5): judged at once, nothing left unread
        (bytes.fromhex("0404000105616c"), (b"\xfb", "closed")),
        # an illegal character, all bytes read
        (bytes.fromhex("0404000103016162"), (b"\xfb", "closed")),
        # length 11: judged after 5 bytes, the 11 name bytes stay unread
        (bytes.fromhex("040400010b") + b"elevenchars", (b"\xfb", "reset")),
        # a negative length
        (bytes.fromhex("04040001ff") + b"x", (b"\xfb", "reset")),
        # version 3.0: judged after 2 bytes
        (bytes.fromhex("03000104") + b"olde", (b"\xf9", "reset")),
        # an auth choice sent along: the 10-byte name read catches part of it
        (wire.encode_connect("pipelined") + wire.encode_auth_choice(), (b"\xfb", "reset")),
    ],
    ids=["short name", "illegal character", "length 11", "negative length", "old version", "pipelined"],
)
def test_connect_message_judged_on_first_read(daemon, connect, ending):
    sock = raw_socket(daemon)
    sock.sendall(connect)
    assert read_to_end(sock) == ending
    sock.close()


def test_name_not_unique_reply(daemon):
    name = fresh("same")
    first = RawClient.connect(daemon, name)
    sock = raw_socket(daemon)
    sock.sendall(wire.encode_connect(name))
    assert read_to_end(sock) == (b"\xfa", "closed")
    first.disconnect()


# --- the auth choice ----------------------------------------------------------------------------


def test_short_auth_choice_is_refused_at_once(daemon):
    sock = to_auth_stage(daemon, fresh("short"))
    sock.sendall(wire.encode_auth_choice()[:45])
    assert read_to_end(sock) == (b"\xf7", "closed")


def test_closing_instead_of_an_auth_choice_still_gets_reject_auth(daemon):
    sock = to_auth_stage(daemon, fresh("close"))
    sock.shutdown(socket.SHUT_WR)
    assert read_to_end(sock) == (b"\xf7", "closed")


@pytest.mark.parametrize("trailing, how", [(b"", "closed"), (b"xyz", "reset")])
def test_unknown_auth_method(daemon, trailing, how):
    sock = to_auth_stage(daemon, fresh("foo"))
    sock.sendall(wire.encode_auth_choice(["FOO"]) + trailing)
    assert read_to_end(sock) == (b"\xf7", how)


@pytest.mark.parametrize("name", ["", "abcdefghij"], ids=["empty name", "10 characters"])
def test_auth_choice_sent_along_with_the_connect_message(daemon, name):
    """Only an empty or a 10-character name leaves a pipelined auth choice for the auth stage."""
    if name:
        name = fresh("pipe").ljust(10, "x")
    sock = raw_socket(daemon)
    sock.sendall(wire.encode_connect(name) + wire.encode_auth_choice())
    assert recv_exactly(sock, 6) == wire.encode_auth_list()
    accept = recv_exactly(sock, 5)
    private_group = recv_exactly(sock, accept[4])
    assert accept[:4] == b"\x01\x04\x04\x00" and private_group.endswith(b"#localhost")
    sock.close()


def test_auth_choice_with_a_message_behind_it(daemon):
    name = fresh("behind")
    private_group = wire.private_group(name, "localhost")
    sock = to_auth_stage(daemon, name)
    sock.sendall(wire.encode_auth_choice() + wire.encode_message(wire.JOIN_MESS, private_group, ["pa-g"]))
    accept = wire.encode_accept(private_group)
    assert recv_exactly(sock, len(accept)) == accept
    notice = wire.unpack_header(recv_exactly(sock, wire.HEADER_LEN))
    assert notice.type == wire.REG_MEMB_MESS | wire.CAUSED_BY_JOIN and notice.sender_name == b"pa-g"
    sock.close()


# --- how a dropped session ends -----------------------------------------------------------------


def _header(client, type_bits: int, num_groups: int = 1, data_len: int = 0) -> bytes:
    return wire.pack_header(type_bits, client.private_group, num_groups, wire.encode_hint(0), data_len)


@pytest.mark.parametrize(
    "build, how",
    [
        # Spread reads the 48-byte header, judges it and closes: the rest stays unread
        (lambda c: _header(c, wire.FIFO_MESS | wire.AGREED_MESS) + wire.encode_name("g"), "reset"),
        (lambda c: _header(c, wire.FIFO_MESS, num_groups=101) + wire.encode_name("g"), "reset"),
        (lambda c: _header(c, wire.FIFO_MESS, num_groups=-1), "closed"),
        (lambda c: _header(c, wire.JOIN_MESS | wire.LEAVE_MESS, num_groups=0), "closed"),
        # a KILL is read whole; what follows it stays unread
        (lambda c: wire.encode_message(wire.KILL_MESS, c.private_group, [c.private_group]), "closed"),
        (
            lambda c: (
                wire.encode_message(wire.KILL_MESS, c.private_group, [c.private_group])
                + wire.encode_message(wire.FIFO_MESS, c.private_group, ["g"], b"after")
            ),
            "reset",
        ),
    ],
    ids=[
        "two services",
        "101 groups",
        "negative groups, header only",
        "join+leave, header only",
        "kill",
        "kill+more",
    ],
)
def test_dropped_session_ends_with_reset_if_bytes_are_left_unread(daemon, build, how):
    client = RawClient.connect(daemon, fresh("drop"), membership=False)
    client.sock.sendall(build(client))
    assert read_to_end(client.sock) == (b"", how)
    client.close()


# --- JOIN and LEAVE of any name -----------------------------------------------------------------


@pytest.mark.parametrize(
    "group",
    [b"a b", "\u00fcber".encode(), b"tab\tx", b"", b"Q" * 32],
    ids=["space", "non-ascii", "tab", "empty", "32 bytes, no NUL"],
)
def test_join_of_any_name_creates_the_group(daemon, group):
    member = RawClient.connect(daemon, fresh("member"))
    sender = RawClient.connect(daemon, fresh("sender"), membership=False)
    member.sock.sendall(wire.encode_message(wire.JOIN_MESS, member.private_group, [group]))
    notice = member.receive()
    assert notice.raw[4:36] == group.ljust(32, b"\0")  # the name field as sent, unterminated if 32
    assert notice.header.type == wire.REG_MEMB_MESS | wire.CAUSED_BY_JOIN
    assert notice.groups == [member.private_group]
    sender.send(wire.FIFO_MESS, [group], b"to it")
    message = member.receive()
    assert (message.groups, message.data) == ([group], b"to it")
    member.sock.sendall(wire.encode_message(wire.LEAVE_MESS, member.private_group, [group]))
    assert member.receive().raw[:4] == b"\x80\x02\x00\x80"  # the self-leave notice
    member.disconnect()
    sender.disconnect()


def test_join_of_a_private_group_name(daemon):
    alice = RawClient.connect(daemon, fresh("alice"), membership=False)
    joiner = RawClient.connect(daemon, fresh("joiner"))
    joiner.sock.sendall(wire.encode_message(wire.JOIN_MESS, joiner.private_group, [alice.private_group]))
    notice = joiner.receive()
    assert (notice.header.sender_name, notice.groups) == (alice.private_group, [joiner.private_group])
    # a multicast to that name still goes to the session, not to the group's members
    joiner.send(wire.FIFO_MESS, [alice.private_group], b"to alice")
    assert alice.receive().data == b"to alice"
    joiner.sync()
    assert not joiner.pending()
    alice.disconnect()
    joiner.disconnect()


def test_join_and_leave_without_a_group_do_not_drop_the_session(daemon):
    client = RawClient.connect(daemon, fresh("nogrp"))
    for command in (wire.JOIN_MESS, wire.LEAVE_MESS):
        client.sock.sendall(_header(client, command, num_groups=0))
    client.sync()  # still served
    if daemon.kind == "spreadbusd":
        # Spread acts on whatever stale name its message buffer holds; spreadbusd on none
        assert not client.pending()
    client.disconnect()


# --- a member that does not read ----------------------------------------------------------------


def test_member_that_does_not_read_is_dropped_as_by_spread(daemon):
    """Spread sets 200 KiB socket buffers and queues up to 1000 messages for a session; a
    member that reads nothing is dropped once the queue is full and keeps what its socket
    holds. With libspread's 200 KiB receive buffer that is well under 1000 of 3000 messages
    of 1 KiB: the queued ones are lost."""
    watcher = RawClient.connect(daemon, fresh("watch"))
    slow = RawClient.connect(daemon, fresh("slow"), rcvbuf=200 * 1024)
    sender = RawClient.connect(daemon, fresh("flood"), membership=False)
    slow.join("pa-flood")
    slow.join("pa-side")
    watcher.join("pa-side")
    while len(watcher.receive().groups) < 2:  # slow's joins are done
        pass
    payload = bytes(1020)
    messages = [
        wire.encode_message(
            wire.FIFO_MESS, sender.private_group, ["pa-flood"], struct.pack("<I", i) + payload
        )
        for i in range(3000)
    ]
    for start in range(0, len(messages), 100):
        sender.sock.sendall(b"".join(messages[start : start + 100]))
    notice = watcher.receive()
    assert notice.header.type == wire.REG_MEMB_MESS | wire.CAUSED_BY_DISCONNECT
    assert wire.decode_membership(notice.data).changed_member == slow.private_group
    data, _ = read_to_end(slow.sock)
    slow.parser.feed(data)
    received = [frame for frame in slow.parser.frames() if wire.is_regular(frame.header.type)]
    assert 0 < len(received) < 1000
    assert [struct.unpack_from("<I", f.data)[0] for f in received] == list(range(len(received)))
    for client in (watcher, sender):
        client.disconnect()
    slow.close()
