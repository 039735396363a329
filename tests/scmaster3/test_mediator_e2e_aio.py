"""The asyncio bus client the mediator runs on (``spreadbus.aio``), against spreadbusd."""

from __future__ import annotations

import asyncio

import pytest

from spreadbus import wire
from spreadbus.aio import BusConnection, BusError, MembershipMessage, RegularMessage, parse_address
from tests.scmaster3.test_mediator_e2e import start_bus


@pytest.fixture
def bus(tmp_path_factory):
    daemon = start_bus(tmp_path_factory)
    yield daemon
    daemon.stop()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("4803@localhost", ("tcp", "localhost:4803")),
        ("localhost:4804", ("tcp", "localhost:4804")),
        ("example.org", ("tcp", "example.org:4803")),
        ("4805", ("unix", "/tmp/4805")),
        ("/run/spread.sock", ("unix", "/run/spread.sock")),
        ("", ("tcp", "localhost:4803")),
    ],
)
def test_address_forms(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["a:b:c", "x@host", "localhost:99999"])
def test_bad_addresses(address):
    with pytest.raises(BusError) as caught:
        parse_address(address)
    assert caught.value.code == wire.ILLEGAL_SPREAD


def test_sessions_over_tcp_and_unix(bus):
    async def scenario():
        alice = await BusConnection.connect(f"{bus.port}@127.0.0.1", "alice")
        bob = await BusConnection.connect(bus.unix_path, "bob")
        assert (alice.private_group, bob.private_group) == ("#alice#localhost", "#bob#localhost")
        bob.join("grp")
        joined = await bob.receive()
        assert isinstance(joined, MembershipMessage) and joined.caused_by_join
        assert (joined.group, joined.members, joined.changed_member) == (
            "grp",
            ("#bob#localhost",),
            "#bob#localhost",
        )
        for n in range(3):
            alice.multicast(wire.FIFO_MESS | wire.SELF_DISCARD, "grp", b"m%d" % n, -4)
        received = [await bob.receive() for _ in range(3)]
        assert received == [
            RegularMessage(wire.FIFO_MESS | wire.SELF_DISCARD, "#alice#localhost", ("grp",), -4, b"m%d" % n)
            for n in range(3)
        ]
        with pytest.raises(BusError) as caught:
            await BusConnection.connect(f"{bus.port}@127.0.0.1", "alice")
        assert caught.value.code == wire.REJECT_NOT_UNIQUE
        alice.join("grp")
        await bob.receive()
        await alice.disconnect()
        gone = await bob.receive()
        assert gone.caused_by_disconnect and gone.changed_member == "#alice#localhost"
        assert await alice.wait_closed() is None
        with pytest.raises(BusError):
            alice.multicast(wire.FIFO_MESS, "grp", b"late")
        await bob.disconnect()

    asyncio.run(scenario())


def test_reading_paused_then_resumed_loses_nothing(bus):
    async def scenario():
        sender = await BusConnection.connect(f"{bus.port}@127.0.0.1", "sender")
        reader = await BusConnection.connect(f"{bus.port}@127.0.0.1", "reader")
        reader.pause_reading()
        assert reader.reading_paused
        for n in range(500):
            sender.multicast(wire.FIFO_MESS, reader.private_group, b"%04d" % n + b"x" * 1000)
        await sender.drain()
        await asyncio.sleep(0.1)
        reader.resume_reading()
        got = [(await reader.receive_frame()).data[:4] for _ in range(500)]
        assert got == [b"%04d" % n for n in range(500)]
        await sender.disconnect()
        await reader.disconnect()

    asyncio.run(scenario())


def test_frame_handler_gets_batches_and_a_lost_bus_ends_the_session(tmp_path_factory):
    bus = start_bus(tmp_path_factory)

    async def scenario():
        mine = await BusConnection.connect(f"{bus.port}@127.0.0.1", "mine")
        batches: list[list[wire.Frame]] = []
        mine.set_frame_handler(batches.append)
        for n in range(50):
            mine.multicast(wire.FIFO_MESS, mine.private_group, b"%d" % n)
        while sum(map(len, batches)) < 50:
            await asyncio.sleep(0.01)
        assert [frame.data for batch in batches for frame in batch] == [b"%d" % n for n in range(50)]
        await asyncio.to_thread(bus.stop)
        reason = await asyncio.wait_for(mine.wait_closed(), 10)
        assert reason is not None and reason.code == wire.CONNECTION_CLOSED

    asyncio.run(scenario())


def test_nobody_listening_is_could_not_connect():
    async def scenario():
        with pytest.raises(BusError) as caught:
            await BusConnection.connect("1@127.0.0.1", "x", timeout=2)
        assert caught.value.code == wire.COULD_NOT_CONNECT

    asyncio.run(scenario())
