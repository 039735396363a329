"""The ctypes shim over a real libspread, against spreadbusd and beside the pure-Python client.

Runs where a libspread shared library is found (``SPREADBUS_LIBSPREAD=/path/libtspread-core.so``
or the system's library search) and skips otherwise. The tests marked ``real_daemon`` also
need ``SPREADBUS_REAL_DAEMON`` to name a Spread 4.4 ``spread`` binary: they run the same
scenario through the real library against that daemon and against spreadbusd and compare
what the application sees.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from spreadbus import client, libspread, wire
from spreadbus.client import GroupId, MembershipMsg, RegularMsg

try:
    _LIB = libspread.load()
    _WHY_NOT = ""
except libspread.LibspreadNotFound as exc:
    _LIB = None
    _WHY_NOT = str(exc)

pytestmark = pytest.mark.skipif(_LIB is None, reason=f"libspread shim tests need the C library: {_WHY_NOT}")

SP = libspread
ALICE, BOB, CAROL = "#alice#localhost", "#bob#localhost", "#carol#localhost"


@pytest.fixture
def bus(spreadbusd):
    return f"{spreadbusd.port}@127.0.0.1"


@pytest.fixture
def mailboxes():
    """Opened mailboxes are disconnected after the test, whatever happened."""
    opened = []

    def track(mailbox):
        opened.append(mailbox)
        return mailbox

    yield track
    for mailbox in opened:
        mailbox.disconnect()


@pytest.fixture
def lib_connect(bus, mailboxes):
    def connect(name, membership=1, daemon=None):
        return mailboxes(SP.connect(daemon or bus, name, 0, membership))

    return connect


def receive(mailbox, timeout=5.0):
    return mailbox.receive(timeout)


def joined(mailbox, group):
    """Join and return the session's own join notice."""
    mailbox.join(group)
    notice = receive(mailbox)
    assert isinstance(notice, MembershipMsg) and notice.reason == wire.CAUSED_BY_JOIN
    return notice


# --- connecting -------------------------------------------------------------------------------


def test_connect_names_and_version(lib_connect):
    assert SP.version() == (4, 4, 0)
    alice = lib_connect("alice")
    assert alice.private_group == ALICE
    # the library cuts long names to 10 characters; the daemon invents a name for ""
    assert lib_connect("verylongname12").private_group == "#verylongna#localhost"
    invented = lib_connect("").private_group
    assert invented.startswith("#r") and invented.endswith("#localhost")
    assert isinstance(alice.fileno(), int) and alice.poll() == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("alice", wire.REJECT_NOT_UNIQUE),
        ("bad name", wire.REJECT_ILLEGAL_NAME),
        ("ha#sh", wire.REJECT_ILLEGAL_NAME),
    ],
)
def test_refused_connects_raise_the_daemon_code(lib_connect, bus, name, code):
    lib_connect("alice")
    with pytest.raises(SP.error) as refused:
        SP.connect(bus, name)
    assert refused.value.args == (code, wire.ERROR_TEXTS[code])


def test_connect_errors_of_the_library(spreadbusd):
    with pytest.raises(SP.error) as bad_string:
        SP.connect("host:4803", "x")
    assert bad_string.value.code == wire.ILLEGAL_SPREAD
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(SP.error) as refused:
        SP.connect(f"{port}@127.0.0.1", "x")
    assert refused.value.args == (wire.COULD_NOT_CONNECT, "Could not connect. Is Spread running?")


def test_unix_socket_in_tmp(spreadbusd_factory, mailboxes):
    # libspread only knows /tmp/<port> for a bare port
    daemon = spreadbusd_factory(unix_dir="/tmp")
    alice = mailboxes(SP.connect(str(daemon.port), "alice"))
    assert alice.private_group == ALICE
    joined(alice, "grpA")
    alice.multicast(wire.FIFO_MESS, "grpA", b"over unix")
    assert receive(alice).message == b"over unix"


# --- membership -------------------------------------------------------------------------------


def test_join_notices_sorted_with_group_ids(lib_connect):
    bob, alice, quiet = lib_connect("bob"), lib_connect("alice"), lib_connect("quiet", membership=0)
    first = joined(bob, "grpA")
    assert first == MembershipMsg(
        wire.CAUSED_BY_JOIN, "grpA", first.group_id, (BOB,), (BOB,), wire.REG_MEMB_MESS, BOB
    )
    assert first.group_id.index == 1
    alice.join("grpA")
    seen_by_bob, seen_by_alice = receive(bob), receive(alice)
    assert seen_by_bob == seen_by_alice
    assert seen_by_bob.members == (ALICE, BOB) and seen_by_bob.changed_member == ALICE
    assert seen_by_bob.group_id != first.group_id and seen_by_bob.group_id.index == 2
    quiet.join("grpA")
    assert receive(bob).members == (ALICE, BOB, "#quiet#localhost")
    quiet.multicast(wire.FIFO_MESS, "grpA", b"data only")
    # a session without membership messages gets data but no notices
    assert receive(quiet) == RegularMsg("#quiet#localhost", ("grpA",), b"data only", 0, 0)


def test_leave_duplicate_join_and_disconnect(lib_connect):
    alice, bob, carol = lib_connect("alice"), lib_connect("bob"), lib_connect("carol")
    for mailbox in (alice, bob, carol):
        joined(mailbox, "grpA")
    for _ in range(2):
        receive(alice)  # bob's and carol's joins
    receive(bob)  # carol's join
    bob.join("grpA")  # already a member: nothing
    bob.leave("nosuchgroup")  # not a member: nothing
    bob.leave("grpA")
    self_leave = receive(bob)
    assert self_leave == MembershipMsg(wire.CAUSED_BY_LEAVE, "grpA", GroupId(0, 0, 0), (), (), 0, None)
    left = receive(alice)
    assert (left.reason, left.members, left.extra, left.changed_member) == (
        wire.CAUSED_BY_LEAVE,
        (ALICE, CAROL),
        (BOB,),
        BOB,
    )
    assert receive(carol) == left
    carol.disconnect()
    carol.disconnect()  # idempotent
    gone = receive(alice)
    assert (gone.reason, gone.members, gone.changed_member) == (wire.CAUSED_BY_DISCONNECT, (ALICE,), CAROL)
    with pytest.raises(SP.error) as closed:
        carol.receive()
    assert closed.value.args == ("receive() called on closed mbox",)
    for method, args in [("join", ("g",)), ("multicast", (wire.FIFO_MESS, "g", b"")), ("fileno", ())]:
        with pytest.raises(SP.error, match=f"{method}\\(\\) called on closed mbox"):
            getattr(carol, method)(*args)


# --- data -------------------------------------------------------------------------------------


def test_multicast_types_service_bits_and_self_discard(lib_connect):
    alice, bob = lib_connect("alice"), lib_connect("bob")
    joined(alice, "grpA")
    joined(bob, "grpA")
    receive(alice)
    sent = [(wire.FIFO_MESS, b"hello", 7), (wire.AGREED_MESS, b"neg", -2), (wire.SAFE_MESS, b"", 0x1234)]
    for service, data, msg_type in sent:
        assert alice.multicast(service, "grpA", data, msg_type) == len(data)
    alice.multicast(wire.FIFO_MESS | wire.SELF_DISCARD, "grpA", b"not for me", 70000)
    expected = [RegularMsg(ALICE, ("grpA",), data, msg_type, 0) for _, data, msg_type in sent]
    assert [receive(alice) for _ in sent] == expected
    assert [receive(bob) for _ in sent] == expected
    # msg_type is cut to 16 bits, SELF_DISCARD keeps it from the sender
    assert receive(bob) == RegularMsg(ALICE, ("grpA",), b"not for me", 70000 - 65536, 0)
    with pytest.raises(TimeoutError):
        alice.receive(0.2)
    with pytest.raises(ValueError, match="invalid service type"):
        alice.multicast(0x80, "grpA", b"x")
    with pytest.raises(SP.error) as no_service:
        alice.multicast(0, "grpA", b"x")
    assert no_service.value.code == wire.ILLEGAL_SERVICE
    with pytest.raises(SP.error) as bad_group:
        alice.join("")
    assert bad_group.value.code == wire.ILLEGAL_GROUP


def test_private_groups_and_open_groups(lib_connect):
    alice, bob, outsider = lib_connect("alice"), lib_connect("bob"), lib_connect("out", membership=0)
    joined(alice, "grpA")
    alice.multicast(wire.FIFO_MESS, "#nobody#localhost", b"dropped")
    alice.multicast(wire.FIFO_MESS, BOB, b"to bob", 1)
    alice.multicast(wire.FIFO_MESS, ALICE, b"to myself", 2)
    assert receive(bob) == RegularMsg(ALICE, (BOB,), b"to bob", 1, 0)
    assert receive(alice) == RegularMsg(ALICE, (ALICE,), b"to myself", 2, 0)
    outsider.multicast(wire.FIFO_MESS, "grpA", b"open group", 3)
    outsider.multicast(wire.FIFO_MESS, "emptygroup", b"swallowed", 4)
    assert receive(alice) == RegularMsg("#out#localhost", ("grpA",), b"open group", 3, 0)
    with pytest.raises(TimeoutError):
        outsider.receive(0.2)


def test_multigroup_one_copy_with_every_group(lib_connect):
    alice, bob, carol = lib_connect("alice"), lib_connect("bob"), lib_connect("carol", membership=0)
    joined(alice, "grpA")
    joined(bob, "grpA")
    joined(bob, "grpB")
    carol.join("grpB")
    receive(alice)  # bob's join
    assert receive(bob).changed_member == CAROL
    carol.multigroup_multicast(wire.FIFO_MESS, ("grpA", "grpB"), b"both", 5)
    expected = RegularMsg(CAROL, ("grpA", "grpB"), b"both", 5, 0)
    assert receive(alice) == expected
    assert receive(bob) == expected  # one copy although bob is in both groups
    assert receive(carol) == expected
    with pytest.raises(TimeoutError):
        bob.receive(0.2)
    with pytest.raises(TypeError):
        carol.multigroup_multicast(wire.FIFO_MESS, ["grpA"], b"x")
    with pytest.raises(ValueError):
        carol.multigroup_multicast(wire.FIFO_MESS, (), b"x")


def test_buffers_grow_for_large_messages_and_long_lists(lib_connect):
    alice, bob = lib_connect("alice"), lib_connect("bob")
    joined(alice, "grpA")
    joined(bob, "grpA")
    receive(alice)
    for size in (10001, 20000, 1_000_000):
        payload = os.urandom(size)
        alice.multicast(wire.FIFO_MESS, "grpA", payload, size % 1000)
        assert receive(bob) == RegularMsg(ALICE, ("grpA",), payload, size % 1000, 0)
    many = tuple(f"g{i:02d}" for i in range(15)) + ("grpA",)
    alice.multigroup_multicast(wire.FIFO_MESS, many, b"16 groups")
    assert receive(bob).groups == many
    # a membership list longer than the 10 default group slots
    others = [lib_connect(f"m{i:02d}") for i in range(11)]
    for other in others:
        other.join("grpA")
    notices = [receive(bob) for _ in others]
    assert len(notices[-1].members) == 13
    assert {notice.changed_member for notice in notices} == {other.private_group for other in others}


def test_daemon_dropping_the_session_closes_the_mailbox(lib_connect):
    alice, bob = lib_connect("alice"), lib_connect("bob")
    joined(alice, "grpA")
    joined(bob, "grpA")
    receive(alice)
    # two service bits: the library sends it, the daemon drops the session. The library writes
    # header and data separately, so the reset may already meet the second write (the real
    # daemon's too): the loss shows at the multicast or at the next receive.
    with pytest.raises(SP.error) as lost:
        alice.multicast(wire.FIFO_MESS | wire.AGREED_MESS, "grpA", b"x")
        receive(alice)
    assert lost.value.code == wire.CONNECTION_CLOSED
    with pytest.raises(SP.error, match="closed mbox"):
        alice.poll()
    assert receive(bob).reason == wire.CAUSED_BY_DISCONNECT


def test_receive_blocks_without_holding_the_gil(lib_connect):
    alice = lib_connect("alice")
    joined(alice, "grpA")
    got = []
    reader = threading.Thread(target=lambda: got.append(alice.receive()))
    reader.start()
    # the main thread goes on running Python while the reader waits inside SP_receive
    alice.multicast(wire.FIFO_MESS, "grpA", b"from another thread")
    reader.join(10)
    assert got == [RegularMsg(ALICE, ("grpA",), b"from another thread", 0, 0)]


# --- the C library and the pure-Python client together ----------------------------------------


def test_library_and_python_client_in_one_group(lib_connect, bus, mailboxes):
    c_side = lib_connect("clib")
    py_side = mailboxes(client.connect(bus, "pyclient"))
    joined(c_side, "grpA")
    py_side.join("grpA")
    # both decode the same notice to the same value
    assert receive(c_side) == py_side.receive(5)
    sends = [
        (c_side.multicast, (wire.FIFO_MESS, "grpA", b"from C", -7)),
        (py_side.multicast, (wire.AGREED_MESS, "grpA", b"from Python", 300)),
        (py_side.multigroup_multicast, (wire.FIFO_MESS, ("grpA", "#clib#localhost"), b"both", 1)),
    ]
    views = []
    for send, args in sends:
        send(*args)  # both have it before the next send: no race between the two sessions
        views.append((receive(c_side), py_side.receive(5)))
    expected = [
        RegularMsg("#clib#localhost", ("grpA",), b"from C", -7, 0),
        RegularMsg("#pyclient#localhost", ("grpA",), b"from Python", 300, 0),
        RegularMsg("#pyclient#localhost", ("grpA", "#clib#localhost"), b"both", 1, 0),
    ]
    assert views == [(message, message) for message in expected]
    py_side.leave("grpA")
    assert py_side.receive(5).msg_subtype == 0
    left = receive(c_side)
    assert (left.reason, left.changed_member) == (wire.CAUSED_BY_LEAVE, "#pyclient#localhost")


# --- the real daemon and spreadbusd compared (only with SPREADBUS_REAL_DAEMON) ------------------

REAL_DAEMON = os.environ.get("SPREADBUS_REAL_DAEMON")


def _free_port() -> int:
    # the real daemon also binds the next port (UDP) and /tmp/<port>
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000 and not os.path.exists(f"/tmp/{port}"):
            return port


@pytest.fixture
def real_spread():
    """A real Spread daemon named localhost on 127.0.0.1 only, ready to deliver."""
    if not REAL_DAEMON:
        pytest.skip("set SPREADBUS_REAL_DAEMON to a Spread 4.4 daemon binary to compare with it")
    port = _free_port()
    rundir = Path(tempfile.mkdtemp(prefix="spread-real-"))
    rundir.chmod(0o755)
    conf = rundir / "spread.conf"
    conf.write_text(
        f"Spread_Segment 127.0.0.255:{port} {{\n  localhost 127.0.0.1 {{\n    D 127.0.0.1\n    C 127.0.0.1\n  }}\n}}\n"
        "EventPriority = WARNING\n"
    )
    conf.chmod(0o644)
    command = [REAL_DAEMON, "-n", "localhost", "-c", str(conf)]
    if os.geteuid() == 0:
        # as root the daemon would chroot and switch to a "spread" user; run it unprivileged
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    process = subprocess.Popen(command, cwd=rundir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    address = f"{port}@127.0.0.1"
    try:
        _wait_until_it_delivers(address, process)
        yield address
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(rundir, ignore_errors=True)


def _wait_until_it_delivers(address, process):
    # the real daemon accepts sessions before its ring is formed but delivers nothing until then
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the real spread daemon exited"
        try:
            with SP.connect(address, "probe") as probe:
                probe.join("probe")
                probe.receive(5)
                return
        except (SP.error, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _scenario(address, connect=SP.connect):
    """What the application sees in a mixed scenario, group-id times and addresses left out."""
    seen = []

    def record(message):
        if isinstance(message, MembershipMsg):
            message = message._replace(group_id=message.group_id.index)
        seen.append(message)

    with connect(address, "alice") as alice, connect(address, "bob") as bob:
        carol = connect(address, "carol", 0, 0)
        for mailbox in (alice, bob, carol):
            mailbox.join("grpA")
            time.sleep(0.05)
        # one action at a time: the order between sessions is the order the daemon reads them
        actions = [
            lambda: bob.join("grpB"),
            lambda: alice.multicast(wire.FIFO_MESS, "grpA", b"fifo", 7),
            lambda: bob.multigroup_multicast(wire.AGREED_MESS, ("grpA", "grpB"), b"multi", -1),
            lambda: carol.multicast(wire.SAFE_MESS | wire.SELF_DISCARD, "grpB", b"x" * 30000, 9),
            lambda: alice.multicast(wire.FIFO_MESS, BOB, b"private"),
            lambda: bob.leave("grpA"),
            carol.disconnect,
        ]
        for action in actions:
            action()
            time.sleep(0.05)
        for mailbox in (alice, bob):
            while True:
                try:
                    record(mailbox.receive(0.5))
                except TimeoutError:
                    break
    return seen


def test_real_daemon_and_spreadbusd_give_the_same_view(real_spread, bus):
    assert _scenario(bus) == _scenario(real_spread)


def test_python_client_sees_the_real_daemon_as_the_library_does(real_spread):
    assert _scenario(real_spread, client.connect) == _scenario(real_spread)
