"""Protected sessions over real sockets: a slow mediator slows its senders, loses nothing.

The protected receiver is a raw client with a tiny receive buffer that does not read until
the daemon says (through ``flow_stats``) that its senders are parked; then it reads
everything. Senders run in threads, blocking in ``sendall`` while the daemon holds them.
"""

import logging
import struct
import threading
import time

import pytest

from spreadbus import wire

MASTER = b"#_MASTER_#localhost"
PAYLOAD = bytes(1016)


def stamped(sender: int, seq: int) -> bytes:
    return struct.pack("<II", sender, seq) + PAYLOAD


def wait_for(condition, what: str):
    """Poll ``condition`` (a hang guard, not a measurement)."""
    deadline = time.monotonic() + 60
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.005)
    return value


class Burst:
    """Threads that each send their pre-encoded messages as fast as the daemon reads them."""

    def __init__(self, clients, messages_of) -> None:
        self.errors = []
        self.threads = [
            threading.Thread(target=self._send, args=(client, messages_of(i, client)), daemon=True)
            for i, client in enumerate(clients)
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, client, messages) -> None:
        try:
            for start in range(0, len(messages), 100):
                client.sock.sendall(b"".join(messages[start : start + 100]))
        except OSError as exc:
            self.errors.append(exc)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a sender is still blocked"
        assert self.errors == []


def master_stats(daemon):
    return daemon.call(daemon.daemon.flow_stats).get(MASTER.decode())


def parked(daemon, *clients) -> bool:
    stats = master_stats(daemon)
    return stats is not None and {c.private_group.decode() for c in clients} <= set(stats.waiting)


def read_data(client, count: int) -> list:
    """The next ``count`` data messages as (sender index, seq) or the raw data if unstamped."""
    seen = []
    while len(seen) < count:
        frame = client.receive()
        assert wire.is_regular(frame.header.type)
        data = frame.data
        seen.append(struct.unpack("<II", data[:8]) if len(data) == len(PAYLOAD) + 8 else data)
    return seen


def assert_fifo_per_sender(seen, senders: int, each: int) -> None:
    for sender in range(senders):
        assert [seq for who, seq in seen if who == sender] == list(range(each)), f"sender {sender}"


# --- the burst ----------------------------------------------------------------------------------


def test_protected_receiver_slows_its_senders_and_loses_nothing(spreadbusd_factory, RawClient, caplog):
    caplog.set_level(logging.INFO, logger="spreadbus.daemon")
    # _MASTER_ is protected by default and congests at 750 queued messages. The observer is an
    # ordinary session reading from a thread of this busy process; with Spread's limit of 1000
    # it could fall behind far enough to be dropped, which is not what this test is about.
    daemon = spreadbusd_factory(max_session_messages=25_000, protect_high_messages=750)
    limit = daemon.daemon.max_session_messages
    high = daemon.daemon.flow_marks.messages
    observer = RawClient.connect(daemon, "observer", membership=False, rcvbuf=8 << 20)
    observer.join("audit")
    observer.sync()
    master = RawClient.connect(daemon, "_MASTER_", membership=False, rcvbuf=4096, timeout=60)
    senders = [RawClient.connect(daemon, f"s{i}", membership=False, timeout=60) for i in range(5)]
    each = 4000

    audited = []  # the observer of "audit" reads all along, in a thread of its own
    audit = threading.Thread(target=lambda: audited.extend(read_data(observer, 5 * each)), daemon=True)
    audit.start()

    # every message goes to the master's private group and to "audit": one delivery, two receivers
    burst = Burst(
        senders,
        lambda i, client: [
            wire.encode_message(wire.FIFO_MESS, client.private_group, [MASTER, b"audit"], stamped(i, seq))
            for seq in range(each)
        ],
    )
    stats = wait_for(lambda: parked(daemon, *senders) and master_stats(daemon), "all five senders parked")
    assert stats.congested and stats.queued == high and stats.engaged == 1
    assert "flow control toward #_MASTER_#localhost" in caplog.text and "engaged" in caplog.text
    assert daemon.daemon.session_count == 7  # the master is still there

    seen = read_data(master, 5 * each)  # now the master reads (as fast as it can)
    burst.join()
    audit.join(timeout=60)
    assert len(seen) == 5 * each and len(set(seen)) == 5 * each
    assert_fifo_per_sender(seen, 5, each)
    assert audited == seen  # the multigroup messages reached both in one total order

    master.sync()
    stats = master_stats(daemon)
    assert stats.peak_queued == high <= limit  # never more than the mark waited in the daemon
    assert stats.peak_queued_bytes < daemon.daemon.flow_marks.bytes
    assert stats.pauses >= 5 and not stats.congested and stats.waiting == ()
    assert "released" in caplog.text and "resuming #s" in caplog.text
    for client in (master, observer, *senders):
        client.close()


@pytest.mark.parametrize("name, options", [("slowpoke", {}), ("_MASTER_", {"protect": ()})])
def test_unprotected_slow_receiver_is_still_dropped(spreadbusd_factory, RawClient, name, options):
    daemon = spreadbusd_factory(**options)
    watcher = RawClient.connect(daemon, "watcher")
    slow = RawClient.connect(daemon, name, membership=False, rcvbuf=4096, timeout=60)
    watcher.join("watch")
    watcher.receive()
    slow.join("watch")
    watcher.receive()
    senders = [RawClient.connect(daemon, f"s{i}", membership=False) for i in range(5)]
    each = 4000
    burst = Burst(
        senders,
        lambda i, client: [
            wire.encode_message(wire.FIFO_MESS, client.private_group, [slow.private_group], stamped(i, seq))
            for seq in range(each)
        ],
    )
    burst.join()  # nobody waits for a slow receiver that is not protected
    notice = watcher.receive()
    cause, changed = notice.header.type, wire.decode_membership(notice.data).changed_member
    assert cause & wire.CAUSED_BY_DISCONNECT and changed == slow.private_group
    assert daemon.call(daemon.daemon.flow_stats) == {}
    got = 0
    with pytest.raises(AssertionError, match="closed the connection"):
        while True:
            slow.receive()
            got += 1
    assert got < 5 * each
    for client in (watcher, slow, *senders):
        client.close()


# --- who keeps flowing ------------------------------------------------------------------------


def test_master_relays_and_a_parked_sender_still_receives(spreadbusd_factory, RawClient):
    daemon = spreadbusd_factory()
    high = daemon.daemon.flow_marks.messages
    master = RawClient.connect(daemon, "_MASTER_", membership=False, rcvbuf=4096, timeout=60)
    module = RawClient.connect(daemon, "module", membership=False, timeout=60)
    module.join("relay")
    module.sync()
    each = 8000
    burst = Burst(
        [module],
        lambda i, client: [
            wire.encode_message(wire.FIFO_MESS, client.private_group, [MASTER], stamped(i, seq))
            for seq in range(each)
        ],
    )
    wait_for(lambda: parked(daemon, module), "the module parked")
    # The master's own inbound is congested: what it sends still goes out at once ...
    for n in range(200):
        master.send(wire.FIFO_MESS, ["relay"], b"relayed %d" % n)
    # ... and reaches the module, which is parked (its reading paused, not its writing).
    assert read_data(module, 200) == [b"relayed %d" % n for n in range(200)]
    # The master's message to itself is taken past the mark: it is never parked.
    master.send(wire.FIFO_MESS, [MASTER], b"to myself")
    stats = wait_for(
        lambda: (s := master_stats(daemon)).queued > high and s, "the master's own message queued"
    )
    assert stats.waiting == ("#module#localhost",) and stats.congested

    seen = read_data(master, each + 1)
    assert seen.count(b"to myself") == 1
    assert_fifo_per_sender([m for m in seen if m != b"to myself"], 1, each)
    burst.join()
    for client in (master, module):
        client.close()


# --- disconnects --------------------------------------------------------------------------------


def test_a_parked_sender_that_disconnects_loses_nothing(spreadbusd_factory, RawClient):
    daemon = spreadbusd_factory()
    master = RawClient.connect(daemon, "_MASTER_", membership=False, rcvbuf=4096, timeout=60)
    loud = RawClient.connect(daemon, "loud", membership=False, timeout=60)
    each = 8000
    burst = Burst(
        [loud],
        lambda i, client: [
            wire.encode_message(wire.FIFO_MESS, client.private_group, [MASTER], stamped(0, seq))
            for seq in range(each)
        ],
    )
    wait_for(lambda: parked(daemon, loud), "the loud sender parked")
    quitter = RawClient.connect(daemon, "quitter", membership=False)
    for seq in range(50):
        quitter.send(wire.FIFO_MESS, [MASTER], stamped(1, seq))
    wait_for(lambda: parked(daemon, quitter), "the quitter parked")
    quitter.disconnect()  # KILL and close while its messages wait in the daemon

    seen = read_data(master, each + 50)
    assert [seq for who, seq in seen if who == 0] == list(range(each))
    assert [seq for who, seq in seen if who == 1] == list(range(50))
    burst.join()
    master.sync()  # the quitter's KILL came after its messages: its name is free again
    RawClient.connect(daemon, "quitter").close()
    for client in (master, loud):
        client.close()


def test_protected_receiver_that_disconnects_resumes_its_senders(spreadbusd_factory, RawClient, caplog):
    caplog.set_level(logging.INFO, logger="spreadbus.daemon")
    daemon = spreadbusd_factory(protect=["_MASTER_", "archive"], protect_high_bytes=256 * 1024)
    master = RawClient.connect(daemon, "_MASTER_", membership=False, rcvbuf=4096, timeout=60)
    senders = [RawClient.connect(daemon, f"s{i}", membership=False, timeout=60) for i in range(3)]
    each = 8000
    burst = Burst(
        senders,
        lambda i, client: [
            wire.encode_message(wire.FIFO_MESS, client.private_group, [MASTER], stamped(i, seq))
            for seq in range(each)
        ],
    )
    stats = wait_for(lambda: parked(daemon, *senders) and master_stats(daemon), "the senders parked")
    assert stats.queued < daemon.daemon.flow_marks.messages  # engaged by the byte mark this time
    assert stats.queued_bytes >= 256 * 1024
    master.close()  # gone, with everything queued for it
    burst.join()  # the senders were resumed and could write everything
    for sender in senders:
        sender.sync()  # the daemon has read all they sent
    assert daemon.call(daemon.daemon.flow_stats) == {}
    assert "flow control toward #_MASTER_#localhost" in caplog.text and "released (it is gone)" in caplog.text
    for client in senders:
        client.close()


def test_what_flow_control_cannot_hold_back(spreadbusd_factory, RawClient, caplog):
    """Past the limit a protected session takes disconnect notices (at most one per member
    of its groups) but not its own flood: it is never paused, so that would grow without
    end; it is dropped for it as Spread would."""
    daemon = spreadbusd_factory(max_session_messages=20)
    master = RawClient.connect(daemon, "_MASTER_", rcvbuf=4096)
    witness = RawClient.connect(daemon, "witness", membership=False)
    member = RawClient.connect(daemon, "member", membership=False)
    master.join("g")
    member.join("g")
    member.sync()
    to_myself = bytes(16 * 1024)
    queued = 0
    while queued < 20:  # the master sends to itself, without reading, up to the limit
        master.send(wire.FIFO_MESS, [MASTER], to_myself)
        master.send(wire.FIFO_MESS, [witness.private_group], b"processed")
        assert witness.receive().data == b"processed"
        queued = master_stats(daemon).queued
    assert queued == 20 and master_stats(daemon).congested
    member.disconnect()  # its disconnect notice for the master is queued past the limit
    wait_for(lambda: master_stats(daemon).queued == 21, "the notice queued")
    caplog.set_level(logging.WARNING, logger="spreadbus.daemon")
    master.send(wire.FIFO_MESS, [MASTER], to_myself)
    wait_for(lambda: daemon.call(daemon.daemon.flow_stats) == {}, "the master dropped")
    assert "_MASTER_" in caplog.text and "sent by protected sessions" in caplog.text
    master.expect_closed()
    for client in (master, witness):
        client.close()
