"""The client library over real sockets: a spreadbus daemon and a scripted master.

The scripted master is a plain Spread client named ``_MASTER_`` that answers handshakes as
told (both protocol versions, 1.0 only, a rejection, or not at all), relays data messages,
answers sync requests and can order disconnects. It stands in where the real mediator
cannot be made to misbehave; test_client_master.py runs the library against the real one.
"""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest

import spreadbus
from scmaster3.client import (
    AdminRejectedError,
    BusConnectError,
    ClientNameNotUniqueError,
    Connection,
    ConnectionLostError,
    ForcedDisconnectError,
    GroupRejectedError,
    HandshakeTimeoutError,
    InvalidClientNameError,
    InvalidGroupError,
    MasterDisconnectedError,
    NotConnectedError,
)
from scmaster3.datamodel import DatabaseProvideMessage, SyncResponseMessage
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.protocol import (
    MASTER_GROUP,
    ConnectOk,
    MessageType,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    decode_message,
    parse_connection_info,
)
from spreadbus.daemon import ThreadedDaemon

WAIT = 10.0  # generous bound for things that happen at once; never reached when all is well


class ScriptedMaster:
    """A stand-in for scmaster on the bus; ``received`` collects every body it got."""

    def __init__(self, port: int, *, versions=("1.0", "1.1"), reject=None, answer=True, database=None):
        self.versions = versions
        self.reject = reject
        self.answer = answer
        self.database = database
        self.received: queue.SimpleQueue = queue.SimpleQueue()
        self.mailbox = spreadbus.connect(f"{port}@127.0.0.1", "_MASTER_", 0, 1)
        self.mailbox.join(MASTER_GROUP)
        self._seq = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def private_group(self) -> str:
        return self.mailbox.private_group

    def _run(self) -> None:
        try:
            while True:
                item = self.mailbox.receive()
                if not isinstance(item, spreadbus.RegularMsg):
                    continue
                try:
                    body = decode_message(item.message, item.msg_type)
                except ProtocolError:
                    continue
                self.received.put(body)
                if body.type == MessageType.CONNECT_GROUP_MSG and self.answer:
                    self._admit(body)
                elif body.type > 0:
                    self._relay(body)
        except spreadbus.error:
            return

    def send(self, body, group: str) -> None:
        self._seq += 1
        stamped = body.stamped(self._seq, int(time.time()))
        self.mailbox.multicast(0x44, group, stamped.encode(), stamped.mess_type)

    def reply(self, kind: int, to: str, data: bytes = b"", version: str = "1.0") -> None:
        body = ServiceMessage(
            type=kind,
            destination=to,
            data=data,
            private_sender_group=self.private_group,
            protocol_version=version,
        )
        self.send(body, to)

    def _admit(self, request: ServiceMessage) -> None:
        client = request.private_sender_group
        if self.reject is not None:
            self.reply(self.reject, client)
        elif request.protocol_version not in self.versions:
            self.reply(MessageType.INVALID_PROTOCOL_MSG, client)
        else:
            ok = ConnectOk(("LOCATION", "PICK"), "scripted", (0, 11)).format(request.protocol_version)
            self.reply(MessageType.CONNECT_GROUP_OK_MSG, client, ok.encode(), request.protocol_version)
            if self.database is not None:
                offer = DatabaseProvideMessage(name=self.database[0], parameters=self.database[1])
                self.send(NetworkMessage(type=1, destination=client, data=encode_payload(offer)), client)

    def _relay(self, body: NetworkMessage) -> None:
        try:
            payload = decode_payload(body.data, body.content_type)
        except ValueError:
            payload = None
        if payload is not None and type(payload).SPEC.rtti_name == "sync_request_message":
            answer = encode_payload(SyncResponseMessage(id=payload.id))
            to = body.private_sender_group
            self.send(NetworkMessage(type=1, destination=to, data=answer), to)
            return
        self.send(body, body.destination)

    def next(self, kind: int, timeout: float = WAIT):
        """The next received body of type ``kind`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.received.get(timeout=max(deadline - time.monotonic(), 0))
            if body.type == kind:
                return body

    def close(self) -> None:
        self.mailbox.disconnect()


@pytest.fixture
def spreadbusd(tmp_path_factory):
    daemon = ThreadedDaemon(port=0, unix_dir=str(tmp_path_factory.mktemp("bus")))
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def bus(spreadbusd):
    return f"127.0.0.1:{spreadbusd.port}"


@pytest.fixture
def master(spreadbusd):
    scripted = ScriptedMaster(spreadbusd.port, database=("sqlite3", "seiscomp3.sqlite"))
    yield scripted
    scripted.close()


def connection(bus, name="", **options) -> Connection:
    options.setdefault("status_interval", None)
    return Connection(bus, name, **options)


def test_handshake(bus, master, shared_dir):
    client = connection(bus, "tester", program_name="scdump3")
    client.connect()
    try:
        assert client.connected
        assert client.private_group == "#tester#localhost"
        assert client.master_group == "#_MASTER_#localhost"
        assert client.groups == ("STATUS_GROUP", "IMPORT_GROUP", "LOCATION", "PICK")
        assert client.session.schema_version == (0, 11)
        assert client.session.protocol_version == "1.1"
        offer = client.wait_database()
        assert offer.url == "sqlite3://seiscomp3.sqlite"
    finally:
        client.disconnect()

    request = master.next(MessageType.CONNECT_GROUP_MSG)
    assert (request.destination, request.peer_group, request.protocol_version) == (
        MASTER_GROUP,
        "LISTENER_GROUP",
        "1.1",
    )
    assert (request.client_type, request.client_priority, request.password) == (0, 0, "")
    # The connection-info string has the items of the real client's, in the same order; values
    # that depend on the process and machine (hostname, ips, pid, cpu, memory) are not compared.
    golden_line = (
        (shared_dir / "golden/sc3/traces/03_scdispatch_add_binary.frames.jsonl").read_text().splitlines()
    )
    golden = next(json.loads(x)["sc3"]["body_text"] for x in golden_line if '"CONNECT_GROUP_MSG"' in x)
    ours = parse_connection_info(request.text)
    theirs = parse_connection_info(golden)
    assert list(ours) == list(theirs)
    assert request.text.startswith("&") and request.text.endswith("&")
    assert ours["time"] == theirs["time"] == "1970-01-01T00:00:00.0000Z"
    assert ours["privategroup"] == "#tester#localhost"
    assert ours["programname"] == "scdump3"
    assert ours["cpuusage"] == "0"
    assert ours["sentmessages"] == ours["receivedmessages"] == "0"
    assert int(ours["pid"]) > 0 and ours["ips"].endswith(" ") or ours["ips"] == ""

    goodbye = master.next(MessageType.CLIENT_DISCONNECTED_MSG)
    assert goodbye.private_sender_group == "#tester#localhost"
    assert goodbye.destination == "" and goodbye.data == b""


def test_fallback_to_protocol_1_0(bus, spreadbusd):
    old = ScriptedMaster(spreadbusd.port, versions=("1.0",))
    try:
        client = connection(bus)
        client.connect()
        assert client.session.protocol_version == "1.0"
        assert client.session.schema_version == (0, 0)
        assert client.groups == ("STATUS_GROUP", "IMPORT_GROUP", "LOCATION", "PICK")
        client.disconnect()
        first = old.next(MessageType.CONNECT_GROUP_MSG)
        second = old.next(MessageType.CONNECT_GROUP_MSG)
        assert (first.protocol_version, second.protocol_version) == ("1.1", "1.0")
    finally:
        old.close()


def test_no_master_times_out_and_closes_the_session(bus, spreadbusd):
    client = connection(bus, "lonely", timeout=0.3)
    with pytest.raises(HandshakeTimeoutError):
        client.connect()
    assert not client.connected
    # The Spread session was closed: the name is free again and a master now admits it.
    scripted = ScriptedMaster(spreadbusd.port)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                client.connect()
                break
            except ClientNameNotUniqueError:  # the daemon may still be processing the kill
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert client.connected
        client.disconnect()
    finally:
        scripted.close()


def test_silent_master_times_out(bus, spreadbusd):
    silent = ScriptedMaster(spreadbusd.port, answer=False)
    try:
        with pytest.raises(HandshakeTimeoutError):
            connection(bus, timeout=0.3).connect()
        assert silent.next(MessageType.CONNECT_GROUP_MSG).protocol_version == "1.1"
    finally:
        silent.close()


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (MessageType.CONNECT_GROUP_REJECT_MSG, GroupRejectedError),
        (MessageType.ADMIN_REJECT_MSG, AdminRejectedError),
    ],
)
def test_rejections(bus, spreadbusd, kind, error):
    rejecting = ScriptedMaster(spreadbusd.port, reject=kind)
    try:
        client = connection(bus)
        with pytest.raises(error):
            client.connect()
        assert not client.connected
        with pytest.raises(NotConnectedError):
            client.receive(timeout=0)
    finally:
        rejecting.close()


def test_names_and_addresses(bus, master, spreadbusd):
    with pytest.raises(InvalidClientNameError):
        Connection(bus, "elevenchars")
    with pytest.raises(InvalidGroupError):
        Connection(bus, "x", MASTER_GROUP)
    first = connection(bus, "twin")
    first.connect()
    try:
        with pytest.raises(ClientNameNotUniqueError) as raised:
            connection(bus, "twin").connect()
        assert raised.value.code == spreadbus.REJECT_NOT_UNIQUE
    finally:
        first.disconnect()
    with pytest.raises(BusConnectError):
        connection("127.0.0.1:1:2").connect()
    closed_port = spreadbusd.port
    spreadbusd.stop()
    with pytest.raises(BusConnectError):
        connection(f"127.0.0.1:{closed_port}").connect()


def test_own_join_is_reported_and_subscriptions_checked(bus, master):
    client = connection(bus, "sub", subscriptions=["PICK"])
    client.connect()
    try:
        join = client.receive(timeout=WAIT)
        assert join.type == MessageType.JOIN_GROUP_MSG
        assert join.text == "?PICK&#sub#localhost?#sub#localhost"
        with pytest.raises(InvalidGroupError):
            client.subscribe("NOPE")
        with pytest.raises(InvalidGroupError):
            client.subscribe(MASTER_GROUP)
        client.subscribe("*")
        assert client.subscriptions == ("PICK", "STATUS_GROUP", "IMPORT_GROUP", "LOCATION")
    finally:
        client.disconnect()


def test_explicit_master_disconnect(bus, master):
    client = connection(bus)
    client.connect()
    master.reply(MessageType.MASTER_DISCONNECTED_MSG, MASTER_GROUP)
    with pytest.raises(MasterDisconnectedError):
        while True:
            client.receive(timeout=WAIT)
    assert not client.connected
    with pytest.raises(MasterDisconnectedError):
        client.receive(timeout=0)


def test_master_crash(bus, master):
    client = connection(bus)
    client.connect()
    master.close()
    with pytest.raises(MasterDisconnectedError):
        while True:
            client.receive(timeout=WAIT)


def test_forced_disconnect(bus, master):
    client = connection(bus, "victim")
    client.connect()
    master.reply(MessageType.CLIENT_DISCONNECT_CMD_MSG, client.private_group)
    with pytest.raises(ForcedDisconnectError):
        while True:
            client.receive(timeout=WAIT)
    goodbye = master.next(MessageType.CLIENT_DISCONNECTED_MSG)
    assert goodbye.private_sender_group == "#victim#localhost"
    assert not client.connected


def test_state_of_health(bus, master):
    client = connection(bus, "healthy", status_interval=0.05)
    client.connect()
    try:
        # Periodic reports go out while the client waits in receive().
        assert client.receive(timeout=0.3) is None
        report = master.next(MessageType.STATE_OF_HEALTH_RESPONSE_MSG)
        assert report.destination == "STATUS_GROUP"
        info = parse_connection_info(report.text)
        assert info["privategroup"] == "#healthy#localhost"
        assert info["time"] != "1970-01-01T00:00:00.0000Z"
        assert int(info["sentmessages"]) >= 1
        # An administrator's query is answered to the administrator.
        client.status_interval = None
        query = ServiceMessage(
            type=MessageType.STATE_OF_HEALTH_CMD_MSG,
            destination=client.private_group,
            private_sender_group="#ADMIN#localhost",
        )
        master.send(query, client.private_group)
        assert client.receive(timeout=0.3) is None
        while (answer := master.next(MessageType.STATE_OF_HEALTH_RESPONSE_MSG)).destination == "STATUS_GROUP":
            pass
        assert answer.destination == "#ADMIN#localhost"
    finally:
        client.disconnect()


def test_sync_and_relay(bus, master):
    sender = connection(bus, "alice", primary_group="PICK")
    listener = connection(bus, "bob", subscriptions=["PICK"])
    listener.connect()
    sender.connect()
    try:
        sync_id = sender.sync(timeout=WAIT)
        assert sync_id.startswith("sync_")
        sender.send_data(b"x\x00y")
        sender.send_data(b"to location", group="LOCATION")
        while (message := listener.receive(timeout=WAIT)).type < 0:
            pass
        assert isinstance(message, NetworkMessage)
        assert (message.destination, message.data, message.private_sender_group) == (
            "PICK",
            b"x\x00y",
            "#alice#localhost",
        )
        assert message.tagged == 1
    finally:
        sender.disconnect()
        listener.disconnect()


def test_reconnect_after_master_restart(bus, spreadbusd):
    first = ScriptedMaster(spreadbusd.port)
    client = connection(bus, "phoenix", subscriptions=["PICK"])
    client.connect()
    first.close()
    with pytest.raises(MasterDisconnectedError):
        while True:
            client.receive(timeout=WAIT)
    second = ScriptedMaster(spreadbusd.port)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                client.reconnect()
                break
            except ClientNameNotUniqueError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert client.connected
        while (join := client.receive(timeout=WAIT)).type != MessageType.JOIN_GROUP_MSG:
            pass
        assert join.text.startswith("?PICK&#phoenix#localhost?")
        client.disconnect()
        assert second.next(MessageType.CLIENT_DISCONNECTED_MSG).private_sender_group == "#phoenix#localhost"
    finally:
        second.close()


def test_bus_gone(bus, master, spreadbusd):
    client = connection(bus, "stranded")
    client.connect()
    spreadbusd.stop()
    with pytest.raises(ConnectionLostError):
        while True:
            client.receive(timeout=WAIT)
    client.disconnect()  # nobody left to tell: closes quietly
    assert not client.connected


def test_disconnect_after_the_bus_went_away_is_quiet(bus, master, spreadbusd):
    client = connection(bus, "quiet")
    client.connect()
    spreadbusd.stop()
    client.disconnect()
    assert not client.connected
    with pytest.raises(NotConnectedError):
        client.send_data(b"x", group="PICK")
