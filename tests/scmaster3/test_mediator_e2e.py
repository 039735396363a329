"""The mediator end to end: a spreadbus daemon, the mediator on it, modules over real sockets.

Modules are the blocking pure-Python ``spread`` client (``spreadbus.client``) speaking the
SeisComP3 side with ``scmaster3.protocol``, so every byte a module sends is under the test's
control (rejections, garbage). The mediator runs in a thread with its own event loop
(``MediatorThread``), as ``scmaster3 -H`` runs it, so it can be stopped and restarted under
connected modules; the bus is ``spreadbus.daemon.ThreadedDaemon``.

The harness (``MediatorThread``, ``Module``, ``start_bus``) is imported by the other
``test_mediator_e2e_*`` modules.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
import zlib

import pytest

from scmaster3 import datamodel
from scmaster3.bus_frontend import BusFrontend
from scmaster3.config import SHIPPED_MSG_GROUPS, ScmasterSettings, sorted_groups
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.master import Master
from scmaster3.plugins import MasterPlugin, MessageRefused
from scmaster3.protocol import (
    MASTER_GROUP,
    SERVICE_TYPE,
    MessageType,
    NetworkMessage,
    ServiceMessage,
    decode_message,
    spread_mess_type,
)
from spreadbus import client as spread
from spreadbus import wire
from spreadbus.daemon import ThreadedDaemon

GROUPS = sorted_groups(list(SHIPPED_MSG_GROUPS))
OK_DATA_11 = (
    "Server-Version: Jakarta git-\nGroups: "
    "AMPLITUDE,CONFIG,EVENT,FOCMECH,GUI,INVENTORY,LOCATION,LOGGING,MAGNITUDE,PICK,PUBLICATION,QC,ROUTING,"
    "SERVICE_PROVIDE,SERVICE_REQUEST\nSchema-Version: 0.11"
)
CONNECT_INFO = (
    "&time=1970-01-01T00:00:00.0000Z&privategroup={pg}&hostname=vm&ips=127.0.0.1 &programname={prog}&pid=1&"
)


def settings(**changes) -> ScmasterSettings:
    return ScmasterSettings(msg_groups=GROUPS, **changes)


def start_bus(tmp_path_factory, port: int = 0) -> ThreadedDaemon:
    daemon = ThreadedDaemon(port=port, unix_dir=str(tmp_path_factory.mktemp("bus")))
    daemon.start()
    return daemon


class MediatorThread:
    """The mediator (Master + BusFrontend) on its own event loop in a thread."""

    def __init__(
        self,
        port: int,
        master_settings: ScmasterSettings | None = None,
        plugins=(),
        master_options=None,
        **frontend,
    ):
        self.address = f"{port}@127.0.0.1"
        self.settings = master_settings or settings()
        self.plugins = list(plugins)
        self.master_options = master_options or {}
        self.frontend_options = {"reconnect_interval": 0.05, "soh_interval": 3600.0, **frontend}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.master: Master | None = None
        self.frontend: BusFrontend | None = None

    def call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> MediatorThread:
        if not self.thread.is_alive():
            self.thread.start()

        async def start():
            self.master = Master(self.settings, self.plugins, **self.master_options)
            self.frontend = BusFrontend(self.master, self.address, **self.frontend_options)
            await self.frontend.start()

        self.call(start())
        return self

    def stop(self) -> None:
        if self.frontend is not None:
            self.call(self.frontend.stop())
            self.frontend = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def wait_connected(self, timeout: float = 10.0) -> None:
        self.call(asyncio.wait_for(self.frontend.wait_connected(), timeout), timeout + 1)


class Module:
    """A SeisComP3 module as seen on the wire: Spread session + SeisComP3 bodies."""

    def __init__(self, port: int, name: str, *, membership: bool = True):
        self.port = port
        self.name = name
        self.mbox = spread.connect(f"{port}@127.0.0.1", name, membership=membership, timeout=5)
        self.private_group = self.mbox.private_group
        self.master: str | None = None
        self.mbox.join(MASTER_GROUP)

    def close(self) -> None:
        self.mbox.disconnect()

    # --- handshake --------------------------------------------------------------------------

    def connect_request(
        self,
        primary: str = "LISTENER_GROUP",
        version: str = "1.1",
        password: str = "",
        client_type=0,
        priority=0,
    ) -> None:
        request = ServiceMessage(
            MessageType.CONNECT_GROUP_MSG,
            destination=MASTER_GROUP,
            data=CONNECT_INFO.format(pg=self.private_group, prog=self.name).encode(),
            private_sender_group=self.private_group,
            protocol_version=version,
            client_type=client_type,
            client_priority=priority,
            password=password,
            peer_group=primary,
        )
        self.mbox.multicast(SERVICE_TYPE, MASTER_GROUP, request.encode(), request.mess_type)

    def handshake(self, primary: str = "LISTENER_GROUP", subscriptions=(), timeout: float = 10.0, **options):
        """Send CONNECT and return ``(spread message, answer)``; joins ``subscriptions`` on OK."""
        self.connect_request(primary, **options)
        message, answer = self.receive(lambda m, b: b.destination == self.private_group, timeout)
        if answer.type == MessageType.CONNECT_GROUP_OK_MSG:
            self.master = message.sender
            for group in subscriptions:
                self.mbox.join(group)
        return message, answer

    def admitted(self, primary: str = "LISTENER_GROUP", subscriptions=(), **options) -> Module:
        _, answer = self.handshake(primary, subscriptions, **options)
        assert answer.type == MessageType.CONNECT_GROUP_OK_MSG, answer
        for group in subscriptions:  # the join notices tell that the subscriptions are in place
            self.receive_membership(group)
        return self

    # --- sending ----------------------------------------------------------------------------

    def send_body(self, body: bytes, mess_type: int) -> None:
        self.mbox.multicast(SERVICE_TYPE, self.master or "#_MASTER_#localhost", body, mess_type)

    def send(self, group: str, data: bytes, type_: int = 1) -> None:
        message = NetworkMessage(type_, group, data=data, private_sender_group=self.private_group)
        self.send_body(message.encode(), message.mess_type)

    def send_payload(self, group: str, payload) -> None:
        self.send(group, encode_payload(payload))

    def command(self, code: int, argument: str = "", **fields) -> None:
        message = ServiceMessage(
            code,
            destination="ADMIN_GROUP",
            data=argument.encode(),
            private_sender_group=self.private_group,
            **fields,
        )
        self.send_body(message.encode(), message.mess_type)

    # --- receiving --------------------------------------------------------------------------

    def next(self, timeout: float = 10.0):
        """The next regular message and its decoded body; membership notices and other
        clients' CONNECT requests are skipped (as the client library does)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.mbox.receive(max(deadline - time.monotonic(), 0.001))
            if isinstance(message, spread.RegularMsg) and message.msg_type != MessageType.CONNECT_GROUP_MSG:
                return message, decode_message(message.message, message.msg_type)

    def receive(self, accept, timeout: float = 10.0):
        """The next regular message for which ``accept(spread message, body)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            message, body = self.next(max(deadline - time.monotonic(), 0.001))
            if accept(message, body):
                return message, body

    def receive_membership(self, group: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            message = self.mbox.receive(max(deadline - time.monotonic(), 0.001))
            if isinstance(message, spread.MembershipMsg) and message.group == group:
                return message

    def nothing_more(self, wait: float = 0.3) -> list:
        """Everything regular that arrives within ``wait`` seconds (should be nothing)."""
        seen = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.mbox.receive(left)
            except TimeoutError:
                break
            if isinstance(message, spread.RegularMsg) and message.msg_type != MessageType.CONNECT_GROUP_MSG:
                seen.append(decode_message(message.message, message.msg_type))
        return seen


class DatabaseOffer(MasterPlugin):
    """Offers a database to every admitted client, as the dbplugin does."""

    name = "offer"

    def service_message(self):
        return datamodel.DatabaseProvideMessage(name="sqlite3", parameters="seiscomp3.sqlite")


@pytest.fixture
def bus(tmp_path_factory):
    daemon = start_bus(tmp_path_factory)
    yield daemon
    daemon.stop()


@pytest.fixture
def mediator_factory(bus):
    started = []

    def start(*, port=None, **options) -> MediatorThread:
        mediator = MediatorThread(port or bus.port, **options).start()
        started.append(mediator)
        return mediator

    yield start
    for mediator in started:
        mediator.close()


@pytest.fixture
def mediator(mediator_factory):
    return mediator_factory()


@pytest.fixture
def modules(bus):
    opened = []

    def open_module(name: str, **options) -> Module:
        module = Module(bus.port, name, **options)
        opened.append(module)
        return module

    yield open_module
    for module in opened:
        try:
            module.close()
        except spread.error:
            pass


# --- handshake -------------------------------------------------------------------------------


def test_connect_v11_gets_ok_and_the_database_offer(mediator_factory, modules):
    mediator_factory(plugins=[DatabaseOffer()])
    module = modules("scautopick")
    message, ok = module.handshake("PICK")
    assert message.sender == "#_MASTER_#localhost"
    assert message.msg_type == -4 and message.groups == ("#scautopick#localhost",)
    assert ok.type == MessageType.CONNECT_GROUP_OK_MSG
    assert ok.text == OK_DATA_11
    assert (ok.protocol_version, ok.client_type, ok.client_priority) == ("1.1", 1, 1)
    assert (ok.private_sender_group, ok.tagged, ok.seq_num) == ("#_MASTER_#localhost", 1, 1)
    assert abs(ok.timestamp - time.time()) < 60
    offer_message, offer = module.next()
    assert offer_message.msg_type == 1
    assert (offer.destination, offer.private_sender_group, offer.seq_num, offer.tagged) == (
        "#scautopick#localhost",
        "",
        2,
        1,
    )
    provided = decode_payload(offer.data, 0)
    assert (provided.name, provided.parameters) == ("sqlite3", "seiscomp3.sqlite")
    assert zlib.decompress(offer.data)[:8] == b"SCBA\x0b\x00\x00\x00"


def test_connect_v10_gets_the_bare_group_list(mediator, modules):
    _, ok = modules("old").handshake("PICK", version="1.0")
    assert ok.type == MessageType.CONNECT_GROUP_OK_MSG
    assert ok.protocol_version == "1.0"
    assert ok.text == ",".join(GROUPS)


def test_schema_version_override_is_announced(mediator_factory, modules):
    mediator_factory(master_settings=settings(schema_version_override=(0, 10)))
    _, ok = modules("older").handshake("PICK")
    assert ok.text.endswith("\nSchema-Version: 0.10")


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("newer", {"primary": "PICK", "version": "2.0"}, MessageType.INVALID_PROTOCOL_MSG),
        ("stranger", {"primary": "NO_SUCH_GROUP"}, MessageType.CONNECT_GROUP_REJECT_MSG),
        ("sneaky", {"primary": "MASTER_GROUP"}, MessageType.CONNECT_GROUP_REJECT_MSG),
        ("notadmin", {"primary": "ADMIN_GROUP", "password": "secret"}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "PICK", "password": "secret"}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "ADMIN_GROUP", "password": "wrong"}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "ADMIN_GROUP", "password": ""}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "ADMIN_GROUP", "password": "secret"}, MessageType.CONNECT_GROUP_OK_MSG),
        ("anyone", {"primary": "STATUS_GROUP", "version": "1.0"}, MessageType.CONNECT_GROUP_OK_MSG),
        ("importer", {"primary": "IMPORT_GROUP"}, MessageType.CONNECT_GROUP_OK_MSG),
    ],
)
def test_connect_checks(mediator_factory, modules, name, options, expected):
    mediator_factory(master_settings=settings(admin_password="secret"))
    module = modules(name)
    message, answer = module.handshake(**options)
    assert answer.type == expected
    assert message.sender == "#_MASTER_#localhost"
    assert answer.destination == module.private_group
    assert answer.private_sender_group == "#_MASTER_#localhost"
    if expected != MessageType.CONNECT_GROUP_OK_MSG:
        # Replies keep the defaults of a fresh ServiceMessage: version 1.0, no data.
        assert (answer.protocol_version, answer.data, answer.tagged) == ("1.0", b"", 1)


def test_rejected_client_is_not_listed(mediator_factory, modules):
    mediator_factory()
    modules("stranger").handshake("NO_SUCH_GROUP")
    admin = modules("ADMIN").admitted("ADMIN_GROUP", client_type=1, priority=1)
    admin.command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
    _, listing = admin.receive(lambda m, b: b.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG)
    assert [entry.split("?")[0] for entry in listing.text.split("&")] == ["#ADMIN#localhost"]


# --- relay -----------------------------------------------------------------------------------


def test_relay_by_group_with_stamp_and_original_sender(mediator, modules):
    picker = modules("picker").admitted("PICK")
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK", "LOCATION"])
    locator = modules("locator").admitted("LOCATION", ["LOCATION"])
    picker.send("PICK", b"pick-1")
    picker.send("LOCATION", b"origin-1", type_=257)
    seen = [listener.next() for _ in range(2)]
    assert [(m.groups, m.msg_type, m.sender) for m, _ in seen] == [
        (("PICK",), 1, "#_MASTER_#localhost"),
        (("LOCATION",), 257, "#_MASTER_#localhost"),
    ]
    first, second = (body for _, body in seen)
    assert (first.type, first.destination, first.data, first.private_sender_group, first.tagged) == (
        1,
        "PICK",
        b"pick-1",
        "#picker#localhost",
        1,
    )
    assert second.seq_num == first.seq_num + 1
    assert second.data == b"origin-1"
    message, only = locator.next()
    assert only == second
    assert message.message == seen[1][0].message
    assert locator.nothing_more() == []


def test_relay_keeps_an_existing_stamp(mediator, modules):
    forwarder = modules("forwarder").admitted("PICK")
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK"])
    stamped = NetworkMessage(1, "PICK", 4242, 1234567890, b"old", "#elsewhere#remote", 1)
    forwarder.send_body(stamped.encode(), 1)
    _, relayed = listener.next()
    assert relayed == stamped


def test_relay_order_across_many_senders(mediator, modules):
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK"])
    senders = [modules(f"sender{i}").admitted("PICK") for i in range(4)]
    count = 300

    def burst(module: Module) -> None:
        for n in range(count):
            module.send("PICK", f"{module.name}:{n}".encode())

    threads = [threading.Thread(target=burst, args=(module,)) for module in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = [listener.next()[1] for _ in range(count * len(senders))]
    per_sender: dict[str, list[int]] = {}
    for body in received:
        name, n = body.data.decode().split(":")
        per_sender.setdefault(name, []).append(int(n))
    assert per_sender == {module.name: list(range(count)) for module in senders}
    seq_nums = [body.seq_num for body in received]
    assert seq_nums == sorted(seq_nums) and len(set(seq_nums)) == len(seq_nums)


def test_sync_request_is_answered_not_relayed(mediator, modules):
    dispatcher = modules("scdisp").admitted("LISTENER_GROUP")
    watcher = modules("watcher").admitted("LISTENER_GROUP", ["STATUS_GROUP", "PICK"])
    dispatcher.send("PICK", b"before")
    dispatcher.send_payload("STATUS_GROUP", datamodel.SyncRequestMessage(id="sync-42"))
    message, answer = dispatcher.next()
    assert message.groups == ("#scdisp#localhost",) and message.msg_type == 1
    assert (answer.destination, answer.private_sender_group, answer.tagged) == ("#scdisp#localhost", "", 1)
    assert decode_payload(answer.data, 0) == datamodel.SyncResponseMessage(id="sync-42")
    _, before = watcher.next()
    assert before.data == b"before"
    assert answer.seq_num == before.seq_num + 1
    assert watcher.nothing_more() == []


def test_xml_sync_request_gets_a_binary_answer(mediator, modules):
    dispatcher = modules("scdispx").admitted("LISTENER_GROUP")
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n<seiscomp xmlns="http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/0.11" version="0.11"><sync_request_message id="x1"/></seiscomp>'
    dispatcher.send("STATUS_GROUP", zlib.compress(xml), type_=257)
    _, answer = dispatcher.next()
    assert answer.type == 1
    assert decode_payload(answer.data, 0) == datamodel.SyncResponseMessage(id="x1")


# --- administration --------------------------------------------------------------------------


def test_admin_list_status_and_disconnect(mediator, modules):
    victim = modules("victim").admitted("LISTENER_GROUP")
    admin = modules("ADMIN").admitted("ADMIN_GROUP", client_type=1, priority=1)
    admin.mbox.join("ADMIN_GROUP")
    admin.command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
    _, listing = admin.receive(lambda m, b: b.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG)
    entries = [entry.split("?") for entry in listing.text.split("&")]
    assert [entry[:6] for entry in entries] == [
        ["#victim#localhost", "CLIENT_TYPE_DEFAULT", "CLIENT_PRIORITY_DEFAULT", "victim", "vm", "127.0.0.1 "],
        ["#ADMIN#localhost", "CLIENT_TYPE_ONE", "CLIENT_PRIORITY_HIGH", "ADMIN", "vm", "127.0.0.1 "],
    ]
    assert all(entry[6].count(":") == 3 and entry[7] == "" for entry in entries)
    assert listing.destination == "#ADMIN#localhost"

    admin.command(MessageType.STATE_OF_HEALTH_CMD_MSG, "#victim#localhost")
    _, asked = victim.receive(lambda m, b: b.type == MessageType.STATE_OF_HEALTH_CMD_MSG)
    assert (asked.destination, asked.private_sender_group, asked.data) == (
        "#victim#localhost",
        "#ADMIN#localhost",
        b"",
    )
    admin.command(MessageType.STATE_OF_HEALTH_CMD_MSG, "#nobody#localhost")
    _, refused = admin.receive(lambda m, b: b.type < 0)
    assert refused.type == MessageType.REJECTED_CMD_MSG

    admin.command(MessageType.CLIENT_DISCONNECT_CMD_MSG, "#victim#localhost")
    _, order = victim.receive(lambda m, b: b.type < 0)
    assert (order.type, order.destination, order.private_sender_group) == (
        MessageType.CLIENT_DISCONNECT_CMD_MSG,
        "#victim#localhost",
        "#_MASTER_#localhost",
    )
    admin.command(MessageType.CLIENT_DISCONNECT_CMD_MSG, "victim")  # the plain name is not enough
    _, refused = admin.receive(lambda m, b: b.type < 0)
    assert refused.type == MessageType.REJECTED_CMD_MSG
    admin.command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
    _, listing = admin.receive(lambda m, b: b.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG)
    assert [entry.split("?")[0] for entry in listing.text.split("&")] == ["#ADMIN#localhost"]


def test_admin_commands_from_others_are_rejected(mediator, modules):
    other = modules("other").admitted("LISTENER_GROUP")
    for code in (
        MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG,
        MessageType.CLIENT_DISCONNECT_CMD_MSG,
        MessageType.STATE_OF_HEALTH_CMD_MSG,
    ):
        other.command(code, "#other#localhost")
        message, answer = other.next()
        assert (answer.type, answer.destination) == (MessageType.REJECTED_CMD_MSG, "#other#localhost")


def test_state_of_health_reports(mediator_factory, modules):
    mediator_factory(soh_interval=0.2, plugins=[ReportingPlugin()])
    reporter = modules("reporter").admitted("LISTENER_GROUP")
    watcher = modules("watcher").admitted("LISTENER_GROUP", ["STATUS_GROUP"])
    report = ServiceMessage(
        MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
        destination="STATUS_GROUP",
        data=b"&privategroup=#reporter#localhost&sentmessages=1&",
        private_sender_group=reporter.private_group,
        client_type=0,
    )
    reporter.send_body(report.encode(), report.mess_type)
    _, republished = watcher.receive(lambda m, b: b.private_sender_group == "#reporter#localhost")
    assert republished.type == MessageType.STATE_OF_HEALTH_RESPONSE_MSG
    assert republished.destination == "STATUS_GROUP" and republished.tagged == 1
    text = republished.text
    assert text.startswith("&privategroup=#reporter#localhost&sentmessages=1&uptime=0:00:00:")
    assert text.endswith("&") and (republished.client_type, republished.client_priority) == (1, 1)

    _, own = watcher.receive(lambda m, b: b.private_sender_group == "#_MASTER_#localhost")
    items = dict(item.split("=", 1) for item in own.text.strip("&").split("&"))
    assert items["privategroup"] == "#_MASTER_#localhost" and items["programname"] == "scmaster"
    assert list(items)[-7:] == [
        "messagequeuesize",
        "summedmessagequeuesize",
        "sentmessages",
        "receivedmessages",
        "plugin",
        "items",
        "uptime",
    ]
    assert int(items["sentmessages"]) >= 3 and int(items["receivedmessages"]) >= 3

    # A report from a client the mediator does not know is dropped.
    stranger = modules("stranger")
    stranger.master = "#_MASTER_#localhost"
    unknown = ServiceMessage(
        MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
        destination="STATUS_GROUP",
        data=b"&x=1&",
        private_sender_group=stranger.private_group,
    )
    stranger.send_body(unknown.encode(), unknown.mess_type)
    seen = watcher.nothing_more(0.5)
    assert all(body.private_sender_group != stranger.private_group for body in seen)


class ReportingPlugin(MasterPlugin):
    name = "reporting"

    def state_of_health(self) -> str:
        return "plugin=1&items=2&"


# --- plugins ---------------------------------------------------------------------------------


class Gatekeeper(MasterPlugin):
    """Refuses messages to QC; stores the others (asynchronously) before they are relayed."""

    name = "gatekeeper"

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    async def process(self, message) -> None:
        if message.destination == "QC":
            raise MessageRefused("no QC today")
        self.stored.append(message.data)  # before the first await: in arrival order
        await asyncio.sleep(0.001)


def test_plugins_run_before_relay_and_may_refuse(mediator_factory, modules):
    gatekeeper = Gatekeeper()
    mediator_factory(plugins=[gatekeeper])
    sender = modules("sender").admitted("PICK")
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK", "QC"])
    for n in range(20):
        sender.send("PICK", b"%d" % n)
    sender.send("QC", b"refused")
    sender.send("PICK", b"after")
    received = [listener.next()[1].data for _ in range(21)]
    assert received == [b"%d" % n for n in range(20)] + [b"after"]
    assert gatekeeper.stored == received
    _, told = sender.receive(lambda m, b: b.type < 0)
    assert told.type == MessageType.REJECTED_CMD_MSG
    assert "gatekeeper" in told.text and "no QC today" in told.text
    assert listener.nothing_more() == []


class Slow(MasterPlugin):
    name = "slow"

    def __init__(self) -> None:
        self.seen = 0

    async def process(self, message) -> None:
        self.seen += 1
        if self.seen % 50 == 0:
            await asyncio.sleep(0.002)


def numbers_received(subscriber: Module, count: int) -> concurrent.futures.Future:
    """The numbers at the end of the next ``count`` data messages, read in a thread of their own
    (a subscriber that stopped reading would be dropped by the bus as a slow receiver)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: [int(subscriber.next(30)[1].data[-5:]) for _ in range(count)])
    pool.shutdown(wait=False)
    return future


def test_burst_is_absorbed_without_loss(mediator_factory, modules, bus):
    mediator_factory(plugins=[Slow()])
    publisher = modules("publisher").admitted("PICK")
    subscriber = modules("subscriber").admitted("LISTENER_GROUP", ["PICK"])
    count = 6000
    payload = b"p" * 250
    received = numbers_received(subscriber, count)
    for n in range(count):
        publisher.send("PICK", payload + b"%05d" % n)
    assert received.result(60) == list(range(count))
    assert bus.daemon.session_count == 3  # mediator, publisher, subscriber: nobody dropped


class Storage(MasterPlugin):
    """Stores 2,000 messages a second, one after the other in a thread of its own, as a
    database plugin would."""

    name = "storage"

    def __init__(self) -> None:
        self.thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def process(self, message):
        return asyncio.wrap_future(self.thread.submit(time.sleep, 0.0005))

    def close(self) -> None:
        self.thread.shutdown()


def test_burst_beyond_the_intake_bound_slows_the_sender_down(mediator_factory, modules, bus):
    # A small intake: the mediator stops reading, the bus holds the publisher back.
    mediator_factory(plugins=[Storage()], master_options={"max_pending_bytes": 256 * 1024})
    publisher = modules("publisher").admitted("PICK")
    subscriber = modules("subscriber").admitted("LISTENER_GROUP", ["PICK"])
    count = 3000
    received = numbers_received(subscriber, count)
    for n in range(count):
        publisher.send("PICK", b"q" * 10_000 + b"%05d" % n)
    assert received.result(60) == list(range(count))
    assert bus.daemon.session_count == 3
    (stats,) = bus.daemon.flow_stats().values()
    assert stats.engaged >= 1  # the bus did hold the publisher back


# --- garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "mess_type"),
    [
        (b"\x01\x00\x00\x00\xff\xff\xff\xffgarbage", 1),  # negative string length
        (b"\xf1\xff\xff\xff\x0c\x00\x00\x00STATUS", -15),  # a report that ends inside a field
        (NetworkMessage(-15, "STATUS_GROUP", data=b"x").encode(), 1),  # a service type as data
    ],
)
def test_client_sending_garbage_is_dropped_and_nobody_notices(mediator, modules, garbage, mess_type):
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK", "STATUS_GROUP"])
    good = modules("good").admitted("PICK")
    bad = modules("bad").admitted("PICK")
    good.send("PICK", b"before")
    bad.send_body(garbage, mess_type)
    good.send("PICK", b"after")
    _, order = bad.receive(lambda m, b: b.type < 0)
    assert (order.type, order.destination) == (MessageType.CLIENT_DISCONNECT_CMD_MSG, "#bad#localhost")
    assert [listener.next()[1].data for _ in range(2)] == [b"before", b"after"]
    assert listener.nothing_more() == []
    admin = modules("ADMIN").admitted("ADMIN_GROUP")
    admin.command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
    _, listing = admin.receive(lambda m, b: b.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG)
    listed = [entry.split("?")[0] for entry in listing.text.split("&")]
    assert listed == ["#listener#localhost", "#good#localhost", "#ADMIN#localhost"]  # bad is gone


def test_garbage_on_the_bus_drops_only_its_sender(mediator, modules, bus):
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK"])
    good = modules("good").admitted("PICK")
    with socket.create_connection(("127.0.0.1", bus.port), timeout=5) as raw:
        raw.sendall(wire.encode_connect("vandal"))
        assert raw.recv(6) == b"\x05NULL "
        raw.sendall(wire.encode_auth_choice())
        assert raw.recv(64).startswith(b"\x01")
        raw.sendall(b"\xff" * 100)  # not a Spread header: the daemon drops the session
        try:
            assert raw.recv(64) == b""
        except ConnectionResetError:
            pass  # closed with our bytes unread, which resets the connection (as Spread does)
    good.send("PICK", b"after the vandal")
    assert listener.next()[1].data == b"after the vandal"


# --- restarts --------------------------------------------------------------------------------


def test_mediator_restart_under_connected_modules(mediator, modules):
    module = modules("steady").admitted("PICK", ["PICK"])
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK"])
    module.send("PICK", b"one")
    assert listener.next()[1].data == b"one"
    mediator.stop()
    for each in (module, listener):
        _, gone = each.receive(lambda m, b: b.type == MessageType.MASTER_DISCONNECTED_MSG)
        assert (gone.destination, gone.private_sender_group, gone.tagged) == (
            "MASTER_GROUP",
            "#_MASTER_#localhost",
            1,
        )
    mediator.start()
    _, ok = module.handshake("PICK")
    assert ok.type == MessageType.CONNECT_GROUP_OK_MSG and ok.seq_num == 1  # a fresh counter
    listener.handshake("LISTENER_GROUP")
    module.send("PICK", b"two")
    assert listener.receive(lambda m, b: b.type == 1)[1].data == b"two"


def test_bus_restart_under_the_mediator(tmp_path_factory):
    bus = start_bus(tmp_path_factory)
    port = bus.port
    mediator = MediatorThread(port).start()
    try:
        Module(port, "early").admitted("PICK").close()
        bus.stop()
        bus = start_bus(tmp_path_factory, port)
        mediator.wait_connected()
        deadline = time.monotonic() + 10
        while True:  # the mediator needs its session back and MASTER_GROUP joined
            module = Module(port, "late")
            try:
                module.admitted("PICK")
                break
            except TimeoutError:
                module.close()
                assert time.monotonic() < deadline
        listener = Module(port, "listener").admitted("LISTENER_GROUP", ["PICK"])
        module.send("PICK", b"across the restart")
        assert listener.next()[1].data == b"across the restart"
        module.close()
        listener.close()
    finally:
        mediator.close()
        bus.stop()


# --- archive ---------------------------------------------------------------------------------


def test_archive_replay_after_reconnect(mediator, modules, bus):
    publisher = modules("publisher").admitted("PICK")
    reader = Module(bus.port, "reader").admitted("LISTENER_GROUP", ["PICK"])
    publisher.send("PICK", b"seen-1")
    _, last_seen = reader.next()
    reader.close()
    for n in range(3):
        publisher.send("PICK", b"missed-%d" % n)
    publisher.send("PICK", b"sync")
    # The answer to a sync request comes through the same pipeline: everything before is relayed.
    publisher.send_payload("STATUS_GROUP", datamodel.SyncRequestMessage(id="relayed"))
    publisher.receive(lambda m, b: b.type == 1 and b.destination == publisher.private_group)
    reader = modules("reader").admitted("LISTENER_GROUP")
    reader.command(
        MessageType.ARCHIVE_REQUEST_MSG,
        archive_seq_num=last_seen.seq_num,
        archive_timestamp=last_seen.timestamp,
    )
    replayed = [reader.receive(lambda m, b: b.type == MessageType.ARCHIVE_MSG) for _ in range(5)]
    assert [body.data for _, body in replayed] == [b"seen-1", b"missed-0", b"missed-1", b"missed-2", b"sync"]
    assert all(m.groups == ("#reader#localhost",) and m.msg_type == 2 for m, _ in replayed)
    assert all(body.destination == "PICK" for _, body in replayed)
    assert replayed[0][1].seq_num == last_seen.seq_num

    reader.command(MessageType.ARCHIVE_REQUEST_MSG, archive_seq_num=last_seen.seq_num, archive_timestamp=1)
    _, invalid = reader.receive(lambda m, b: b.type < 0)
    assert invalid.type == MessageType.INVAlID_ARCHIVE_REQUEST_MSG


def test_spread_message_of_a_data_body_matches_its_type(mediator, modules):
    sender = modules("sender").admitted("PICK")
    listener = modules("listener").admitted("LISTENER_GROUP", ["PICK"])
    sender.send("PICK", b"xml", type_=0x701)
    message, body = listener.next()
    assert body.type == 0x701 and message.msg_type == spread_mess_type(0x701)
