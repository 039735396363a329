"""The client library against the real mediator: the ``scmaster3`` command with its bus.

The mediator runs as a subprocess, as an operator starts it (in-process bus on an ephemeral
port, a configuration file of its own); where the test needs to stop the mediator while the
bus stays up, it runs with ``-H`` against a bus of the test. Every wait is bounded by a
generous limit that is only reached when something is broken; nothing is timed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from scmaster3.client import (
    AdminRejectedError,
    ClientError,
    Connection,
    GroupRejectedError,
    InvalidGroupError,
    MasterDisconnectedError,
    NotConnectedError,
)
from scmaster3.datamodel import Comment, Notifier, NotifierMessage, Pick
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import (
    ADMIN_GROUP,
    MessageType,
    NetworkMessage,
    ServiceMessage,
    parse_connection_info,
)
from spreadbus.daemon import ThreadedDaemon

WAIT = 15.0
CONFIG = "msgGroups = PICK, LOCATION, EVENT\nadmin.password = secret\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mediator:
    process: subprocess.Popen
    address: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_mediator(workdir: Path, config: str = CONFIG, bus: str | None = None) -> Mediator:
    """Run ``scmaster3`` with its own bus (or on ``bus``) and wait until it admits clients."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "scmaster.cfg"
    config_file.write_text(config)
    log = workdir / "scmaster3.log"
    command = [sys.executable, "-m", "scmaster3.cli", "--config-file", str(config_file), "--console", "1"]
    if bus is None:
        address = f"127.0.0.1:{free_port()}"
        command += ["--bind", address]
    else:
        address = bus
        command += ["-H", bus]
    env = {**os.environ, "HOME": str(workdir), "SEISCOMP_ROOT": str(workdir)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    mediator = Mediator(process, address, log)
    deadline = time.monotonic() + WAIT
    while True:
        probe = Connection(address, timeout=0.5, status_interval=None)
        try:
            probe.connect()
            probe.disconnect()
            return mediator
        except ClientError:
            if process.poll() is not None or time.monotonic() > deadline:
                mediator.stop()
                pytest.fail(f"scmaster3 did not come up:\n{mediator.output()}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def mediator(tmp_path_factory):
    running = start_mediator(tmp_path_factory.mktemp("mediator"))
    yield running
    running.stop()


def client(mediator: Mediator, name: str = "", **options) -> Connection:
    options.setdefault("status_interval", None)
    connection = Connection(mediator.address, name, **options)
    connection.connect()
    return connection


def next_data(connection: Connection) -> NetworkMessage:
    """The next data message (service messages such as join notices are skipped)."""
    while True:
        message = connection.receive(timeout=WAIT)
        assert message is not None, "no data message arrived"
        if isinstance(message, NetworkMessage):
            return message


def pick_added(public_id: str) -> NotifierMessage:
    pick = Pick(publicID=public_id)
    return NotifierMessage(attachments=[Notifier(parentID="EventParameters", operation="add", object=pick)])


def test_handshake_with_the_mediator(mediator):
    connection = client(mediator, "hello")
    try:
        assert connection.master_group == "#_MASTER_#localhost"
        assert connection.groups == ("STATUS_GROUP", "IMPORT_GROUP", "EVENT", "LOCATION", "PICK")
        assert connection.session.server_version.strip()
        assert connection.session.schema_version == (0, 11)
        assert connection.session.protocol_version == "1.1"
    finally:
        connection.disconnect()


def test_send_and_receive_between_two_clients(mediator):
    alice = client(mediator, "alice", primary_group="PICK", subscriptions=["PICK", "LOCATION"])
    bob = client(mediator, "bob", primary_group="LOCATION", subscriptions=["PICK"], encoding="xml")
    try:
        assert alice.send(pick_added("Pick/alice"))  # to alice's primary group, PICK
        received = next_data(bob)
        assert (received.destination, received.private_sender_group, received.type) == (
            "PICK",
            "#alice#localhost",
            1,
        )
        assert received.tagged == 1 and received.seq_num > 0
        assert decode_payload(received.data, received.content_type) == pick_added("Pick/alice")

        comment = NotifierMessage(
            attachments=[Notifier(parentID="Origin/1", operation="add", object=Comment(text="x", id="c"))]
        )
        assert bob.send(comment)  # to bob's primary group, LOCATION, as XML
        received = next_data(alice)
        assert (received.destination, received.private_sender_group, received.type) == (
            "LOCATION",
            "#bob#localhost",
            257,
        )
        assert decode_payload(received.data, received.content_type) == comment

        # Alice is subscribed to PICK, where her own message was relayed. The master answers
        # a sync request only after relaying what she sent before, so once sync() returns,
        # her echo has arrived: it was dropped, nothing else is waiting.
        alice.sync(timeout=WAIT)
        while (left := alice.receive(timeout=0)) is not None:
            assert not isinstance(left, NetworkMessage), left
    finally:
        alice.disconnect()
        bob.disconnect()


def test_sync_round_trip(mediator):
    connection = client(mediator, "syncer")
    try:
        assert connection.sync("sync-1", timeout=WAIT) == "sync-1"
        assert connection.sync(timeout=WAIT).startswith("sync_")
    finally:
        connection.disconnect()


def test_archive_replay_after_a_reconnect(mediator):
    publisher = client(mediator, "archpub", primary_group="PICK")
    reader = client(mediator, "archread", subscriptions=["PICK"])
    try:
        publisher.send_data(b"seen")
        last = next_data(reader)
        reader.disconnect()
        for n in range(3):
            publisher.send_data(b"missed-%d" % n)
        publisher.sync(timeout=WAIT)  # relayed (and archived) before the reader is back
        reader.subscribe_archive("PICK")
        reader.connect()
        reader.request_archive(last.seq_num, last.timestamp)
        replayed = [next_data(reader) for _ in range(4)]
        assert [message.data for message in replayed] == [b"seen", b"missed-0", b"missed-1", b"missed-2"]
        assert {(message.type, message.destination) for message in replayed} == {(2, "PICK")}
        assert replayed[0].seq_num == last.seq_num
    finally:
        publisher.disconnect()
        reader.disconnect()


def test_send_checks_against_the_offered_groups(mediator):
    listener = client(mediator)
    try:
        with pytest.raises(InvalidGroupError):
            listener.send(pick_added("Pick/x"))  # LISTENER_GROUP is not offered
        with pytest.raises(InvalidGroupError):
            listener.send(pick_added("Pick/x"), "QC")
        with pytest.raises(InvalidGroupError):
            listener.send(pick_added("Pick/x"), ADMIN_GROUP)
        assert not listener.send(NotifierMessage(), "PICK")  # empty: not sent
        assert listener.send(pick_added("Pick/x"), "PICK")
    finally:
        listener.disconnect()


def test_protocol_1_0_client(mediator):
    old = client(mediator, "old", protocol_version="1.0")
    new = client(mediator, "new", subscriptions=["EVENT"])
    try:
        assert old.session.protocol_version == "1.0"
        assert old.session.schema_version == (0, 0)
        assert old.groups == ("STATUS_GROUP", "IMPORT_GROUP", "EVENT", "LOCATION", "PICK")
        old.send(pick_added("Pick/old"), "EVENT")
        received = next_data(new)
        assert not zlib.decompress(received.data).startswith(b"SCBA")  # unversioned archive
        assert decode_payload(received.data, received.content_type) == pick_added("Pick/old")
    finally:
        old.disconnect()
        new.disconnect()


def test_rejections(mediator):
    with pytest.raises(GroupRejectedError):
        client(mediator, primary_group="NOPE")
    with pytest.raises(AdminRejectedError):
        client(mediator, "ADMIN")  # the admin name with another primary group
    with pytest.raises(AdminRejectedError):
        client(mediator, "ADMIN", primary_group=ADMIN_GROUP, password="wrong")
    with pytest.raises(AdminRejectedError):
        client(mediator, "notadmin", primary_group=ADMIN_GROUP, password="secret")
    admin = client(
        mediator, "ADMIN", primary_group=ADMIN_GROUP, password="secret", client_type=1, client_priority=1
    )
    try:
        admin.send_command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
        while (reply := admin.receive(timeout=WAIT)).type != MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG:
            pass
        assert "#ADMIN#localhost?CLIENT_TYPE_ONE?CLIENT_PRIORITY_HIGH?" in reply.text
    finally:
        admin.disconnect()


def test_state_of_health_reports_are_republished(mediator):
    watcher = client(mediator, "watcher", subscriptions=["STATUS_GROUP"])
    reporter = client(mediator, "reporter", status_interval=0.05)
    try:
        assert reporter.receive(timeout=0.2) is None  # reports go out while it waits
        while True:
            message = watcher.receive(timeout=WAIT)
            assert message is not None, "no republished report"
            if (
                isinstance(message, ServiceMessage)
                and message.type == MessageType.STATE_OF_HEALTH_RESPONSE_MSG
                and message.private_sender_group == "#reporter#localhost"
            ):
                break
        info = parse_connection_info(message.text)
        assert info["privategroup"] == "#reporter#localhost"
        assert "uptime" in info  # appended by the mediator
    finally:
        reporter.disconnect()
        watcher.disconnect()


def test_graceful_disconnect_removes_the_client(mediator):
    leaving = client(mediator, "leaving")
    leaving.disconnect()
    with pytest.raises(NotConnectedError):
        leaving.send(pick_added("Pick/y"), "PICK")
    admin = client(mediator, "ADMIN", primary_group=ADMIN_GROUP, password="secret")
    try:
        admin.send_command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
        while (reply := admin.receive(timeout=WAIT)).type != MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG:
            pass
        assert "#leaving#" not in reply.text
    finally:
        admin.disconnect()


def test_mediator_stop_is_seen_as_master_disconnect(tmp_path):
    bus = ThreadedDaemon(port=0, unix_dir=str(tmp_path))
    bus.start()
    try:
        mediator = start_mediator(tmp_path / "mediator", bus=f"127.0.0.1:{bus.port}")
        connection = client(mediator, "orphan")
        mediator.stop()
        with pytest.raises(MasterDisconnectedError):
            while True:
                connection.receive(timeout=WAIT)
        assert not connection.connected
    finally:
        bus.stop()


def test_client_over_the_real_libspread(mediator):
    """The same library over a real libspread (``SPREADBUS_LIBSPREAD``), beside the pure client."""
    from spreadbus import libspread

    try:
        libspread.load()
    except libspread.LibspreadNotFound as exc:
        pytest.skip(f"needs the C library: {exc}")
    native = client(mediator, "native", primary_group="PICK", bus=libspread)
    pure = client(mediator, "pure", subscriptions=["PICK"])
    try:
        assert native.groups == ("STATUS_GROUP", "IMPORT_GROUP", "EVENT", "LOCATION", "PICK")
        native.send(pick_added("Pick/native"))
        native.sync(timeout=WAIT)
        received = next_data(pure)
        assert received.private_sender_group == "#native#localhost"
        assert decode_payload(received.data, received.content_type) == pick_added("Pick/native")
    finally:
        native.disconnect()
        pure.disconnect()
