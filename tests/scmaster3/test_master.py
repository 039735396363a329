"""The mediator core without a bus: what it sends for what it receives."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scmaster3 import datamodel
from scmaster3.config import SHIPPED_MSG_GROUPS, ScmasterSettings, sorted_groups
from scmaster3.io.payload import encode_payload
from scmaster3.master import MalformedMessage, Master, scan_data_body
from scmaster3.plugins import MasterPlugin
from scmaster3.protocol import MessageType, NetworkMessage, ProtocolError, ServiceMessage, decode_message

MASTER = "#_MASTER_#localhost"
NOW = 1_795_317_442


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, object]] = []

    def __call__(self, group, mess_type, body) -> None:
        group = group.decode() if isinstance(group, bytes) else group
        self.sent.append((group, mess_type, decode_message(body, mess_type)))

    def take(self) -> list:
        sent, self.sent = self.sent, []
        return sent


def make_master(**options) -> tuple[Master, Recorder]:
    settings = options.pop("settings", ScmasterSettings(msg_groups=sorted_groups(list(SHIPPED_MSG_GROUPS))))
    master = Master(settings, clock=lambda: NOW, **options)
    recorder = Recorder()
    master.attach(MASTER, recorder)
    return master, recorder


def connect(master: Master, name: str, primary: str = "LISTENER_GROUP", **fields) -> None:
    group = f"#{name}#localhost"
    request = ServiceMessage(
        -1,
        "MASTER_GROUP",
        data=f"&privategroup={group}&hostname=h&ips=1.2.3.4 &programname={name}&".encode(),
        private_sender_group=group,
        protocol_version=fields.pop("version", "1.1"),
        client_type=0,
        client_priority=0,
        peer_group=primary,
        **fields,
    )
    master.receive(group, -1, request.encode())


def data_body(destination: str, data: bytes, sender: str = "#pub#localhost", type_: int = 1) -> bytes:
    return NetworkMessage(type_, destination, data=data, private_sender_group=sender).encode()


async def relay_all(master: Master) -> None:
    task = asyncio.create_task(master.run())
    while master.pending_messages:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()


def test_sequence_numbers_wrap_after_63000():
    master, _ = make_master()
    master._counter = 62_999
    assert [master.next_sequence_number() for _ in range(4)] == [63_000, 0, 1, 2]


def test_ok_then_service_messages_of_plugins():
    class Offer(MasterPlugin):
        def service_message(self):
            return datamodel.DatabaseProvideMessage(
                name="mysql", parameters="sysop:sysop@localhost/seiscomp3"
            )

    master, sent = make_master(plugins=[Offer(), MasterPlugin(), Offer()])
    connect(master, "scautopick", "PICK")
    out = sent.take()
    assert [(group, kind) for group, kind, _ in out] == [("#scautopick#localhost", -4)] + [
        ("#scautopick#localhost", 1)
    ] * 2
    assert [body.seq_num for _, _, body in out] == [1, 2, 3]
    assert all(body.timestamp == NOW for _, _, body in out)
    offer = out[1][2]
    assert offer.data == encode_payload(
        datamodel.DatabaseProvideMessage(name="mysql", parameters="sysop:sysop@localhost/seiscomp3")
    )
    assert len(master.clients) == 1


def test_duplicate_connects_make_duplicate_records_each_removed_by_one_disconnect():
    master, _ = make_master()
    connect(master, "twice")
    connect(master, "twice")
    assert len(master.clients) == 2
    leave = ServiceMessage(-7, private_sender_group="#twice#localhost", client_type=0, client_priority=0)
    master.receive("#twice#localhost", -7, leave.encode())
    assert len(master.clients) == 1
    master.member_disconnected("#twice#localhost")
    assert len(master.clients) == 0
    master.member_disconnected("#twice#localhost")  # unknown: nothing happens
    master.member_disconnected("#_MASTER_#elsewhere")


def test_admin_group_is_remembered_and_forgotten():
    settings = ScmasterSettings(msg_groups=("PICK",), admin_name="boss", admin_password="pw")
    master, sent = make_master(settings=settings)
    connect(master, "boss", "ADMIN_GROUP", password="pw")
    assert sent.take()[0][1] == MessageType.CONNECT_GROUP_OK_MSG
    assert master.admin_group == "#boss#localhost"
    master.member_disconnected("#boss#localhost")
    assert master.admin_group == ""
    connect(master, "ADMIN", "ADMIN_GROUP")  # the default name means nothing here
    assert sent.take()[0][1] == MessageType.ADMIN_REJECT_MSG


def test_report_to_the_admin_without_admin_is_dropped():
    master, sent = make_master()
    connect(master, "reporter")
    sent.take()
    report = ServiceMessage(
        -15, "#somebody#localhost", data=b"&a=1&", private_sender_group="#reporter#localhost"
    )
    master.receive("#reporter#localhost", -15, report.encode())
    assert sent.take() == []


def test_own_report_items_in_order():
    master, sent = make_master()
    master.receive("#pub#localhost", 1, data_body("PICK", b"x"))
    master.state_of_health_report("&time=T&privategroup=#_MASTER_#localhost&")
    ((group, kind, report),) = sent.take()
    assert (group, kind, report.private_sender_group) == ("STATUS_GROUP", -15, MASTER)
    assert report.text == (
        "&time=T&privategroup=#_MASTER_#localhost&messagequeuesize=1&summedmessagequeuesize=1"
        "&sentmessages=0&receivedmessages=1&uptime=0:00:00:00&"
    )


def test_truncated_body_gets_default_trailing_fields():
    body = data_body("PICK", b"abc")
    truncated = body[: len(body) - 4]  # no tagged field: it defaults to 0
    view = scan_data_body(truncated)
    assert view.tagged == 0
    assert NetworkMessage.decode(view.stamped(7, 8)) == NetworkMessage(
        1, "PICK", 7, 8, b"abc", "#pub#localhost", 1
    )


def test_relay_while_detached_waits_for_the_next_session():
    master, sent = make_master()

    async def scenario():
        task = asyncio.create_task(master.run())
        master.detach()
        master.receive("#pub#localhost", 1, data_body("PICK", b"kept"))
        await asyncio.sleep(0.01)
        assert sent.sent == []
        master.attach(MASTER, sent)
        while not sent.sent:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(scenario())
    ((group, _, body),) = sent.take()
    assert (group, body.data, body.tagged) == ("PICK", b"kept", 1)


def test_pressure_is_raised_and_released():
    master, sent = make_master(max_pending_bytes=1000)
    events = []
    master.set_pressure_callback(events.append)
    for n in range(20):
        master.receive("#pub#localhost", 1, data_body("PICK", b"%04d" % n + b"x" * 100))
    assert events == [True]
    asyncio.run(relay_all(master))
    assert events == [True, False]
    assert [body.data[:4] for _, _, body in sent.take()] == [b"%04d" % n for n in range(20)]


@pytest.mark.parametrize(
    "body",
    [
        b"\x01\x00\x00\x00\xff\xff\xff\xff",  # negative string length
        b"\x01\x00\x00\x00\x10\x00\x00\x00PI",  # string past the end
        NetworkMessage(0, "PICK").encode(),  # type 0
    ],
)
def test_malformed_data_drops_its_sender(body):
    master, sent = make_master()
    connect(master, "bad")
    sent.take()
    master.receive("#bad#localhost", 1, body)
    asyncio.run(relay_all(master))
    ((group, kind, order),) = sent.take()
    assert (group, kind, order.destination) == ("#bad#localhost", -19, "#bad#localhost")
    assert len(master.clients) == 0


def test_service_body_with_a_data_type_drops_its_sender():
    master, sent = make_master()
    master.receive("#odd#localhost", -7, ServiceMessage(5).encode())
    ((group, kind, _),) = sent.take()
    assert (group, kind) == ("#odd#localhost", -19)


def test_stop_sends_master_disconnected_after_relaying_what_was_read():
    master, sent = make_master()

    async def scenario():
        task = asyncio.create_task(master.run())
        master.receive("#pub#localhost", 1, data_body("PICK", b"last"))
        await master.stop()
        task.cancel()

    asyncio.run(scenario())
    out = sent.take()
    assert [(group, kind) for group, kind, _ in out] == [("PICK", 1), ("MASTER_GROUP", -9)]
    assert out[1][2].private_sender_group == MASTER and out[1][2].seq_num == 2


class Batching(MasterPlugin):
    """Takes messages as they come and settles them later, newest first."""

    name = "batching"

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future] = []
        self.seen: list[bytes] = []

    def process(self, message):
        self.seen.append(message.data)
        if message.data == b"boom":
            raise RuntimeError("broken")
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future


def test_plugins_get_later_messages_before_earlier_ones_settle_and_relay_keeps_order():
    plugin = Batching()
    master, sent = make_master(plugins=[plugin])

    async def scenario():
        task = asyncio.create_task(master.run())
        for data in (b"a", b"b", b"boom", b"c"):
            master.receive("#pub#localhost", 1, data_body("PICK", data))
        while len(plugin.seen) < 4:
            await asyncio.sleep(0)
        assert sent.sent == []  # nothing settled, nothing relayed
        assert master.pending_messages == 4
        for future in reversed(plugin.waiting):
            future.set_result(None)
        while master.pending_messages:
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(scenario())
    out = sent.take()
    assert [(group, body.data) for group, _, body in out if group == "PICK"] == [
        ("PICK", b"a"),
        ("PICK", b"b"),
        ("PICK", b"c"),
    ]
    ((group, kind, told),) = [item for item in out if item[0] != "PICK"]
    assert (group, kind) == ("#pub#localhost", MessageType.REJECTED_CMD_MSG)
    assert "batching" in told.text and "broken" in told.text


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        # the version is checked first, whatever else is wrong
        ("ADMIN", {"version": "9.9", "primary": "NOWHERE"}, MessageType.INVALID_PROTOCOL_MSG),
        # then the primary group, before the admin rules
        ("ADMIN", {"primary": "NOWHERE"}, MessageType.CONNECT_GROUP_REJECT_MSG),
        ("someone", {"primary": "NOWHERE", "password": "pw"}, MessageType.CONNECT_GROUP_REJECT_MSG),
        # then the admin rules: name, group, password
        ("someone", {"primary": "ADMIN_GROUP", "password": "pw"}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "PICK", "password": "pw"}, MessageType.ADMIN_REJECT_MSG),
        ("ADMIN", {"primary": "ADMIN_GROUP", "password": "nope"}, MessageType.ADMIN_REJECT_MSG),
        # the password of anyone else is not looked at
        ("someone", {"primary": "PICK", "password": "nope"}, MessageType.CONNECT_GROUP_OK_MSG),
        ("ADMIN", {"primary": "ADMIN_GROUP", "password": "pw"}, MessageType.CONNECT_GROUP_OK_MSG),
    ],
)
def test_order_of_the_connect_checks(name, fields, expected):
    settings = ScmasterSettings(msg_groups=("PICK",), admin_password="pw")
    master, sent = make_master(settings=settings)
    connect(master, name, fields.pop("primary"), **fields)
    ((group, kind, answer),) = sent.take()
    assert (group, kind) == (f"#{name}#localhost", expected)
    assert answer.destination == f"#{name}#localhost" and answer.private_sender_group == MASTER


def test_relay_that_finds_the_session_gone_is_sent_on_the_next_one():
    master, sent = make_master()

    def gone(group, mess_type, body):
        raise ConnectionError("session closed")

    async def scenario():
        task = asyncio.create_task(master.run())
        master.attach(MASTER, gone)
        master.receive("#pub#localhost", 1, data_body("PICK", b"survivor"))
        while master.pending_messages:
            await asyncio.sleep(0)
        master.attach(MASTER, sent)
        task.cancel()

    asyncio.run(scenario())
    ((group, _, body),) = sent.take()
    assert (group, body.data, body.seq_num) == ("PICK", b"survivor", 1)


@settings(max_examples=150, deadline=None)
@given(
    mess_type=st.sampled_from([1, 257, -1, -7, -11, -14, -15, -17, -19, -99]),
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda t, d, data, s, tail: NetworkMessage(t, d, data=data, private_sender_group=s).encode()[
                :tail
            ],
            st.integers(-20, 2000),
            st.text(st.characters(max_codepoint=255), max_size=12),
            st.binary(max_size=40),
            st.text(st.characters(max_codepoint=255), max_size=20),
            st.integers(0, 200),
        ),
    ),
)
def test_any_body_is_relayed_answered_or_dropped_never_fatal(mess_type, body):
    master, sent = make_master()
    connect(master, "fuzz")
    sent.take()
    master.receive("#fuzz#localhost", mess_type, body)
    asyncio.run(relay_all(master))
    for group, kind, message in sent.take():
        assert message.tagged == 1 or kind > 0
        if kind == MessageType.CLIENT_DISCONNECT_CMD_MSG:
            assert group == "#fuzz#localhost"


int32 = st.integers(-(2**31), 2**31 - 1)
latin1 = st.text(st.characters(max_codepoint=255), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    message=st.builds(NetworkMessage, int32, latin1, int32, int32, st.binary(max_size=40), latin1, int32),
    cut=st.integers(0, 120),
    noise=st.binary(max_size=8),
    at=st.integers(0, 120),
)
def test_relay_scanner_agrees_with_the_decoder(message, cut, noise, at):
    # The relay reads bodies by offsets, not with the decoder: both must see the same message.
    body = message.encode()
    body = body[:cut] if cut < len(body) else body
    body = body[:at] + noise + body[at + len(noise) :]
    try:
        decoded = NetworkMessage.decode(body)
    except ProtocolError:
        with pytest.raises(MalformedMessage):
            scan_data_body(body)
        return
    view = scan_data_body(body)
    assert (view.type, view.destination.decode("latin-1"), view.data, view.private_sender_group) == (
        decoded.type,
        decoded.destination,
        decoded.data,
        decoded.private_sender_group,
    )
    assert view.tagged == decoded.tagged
    assert view.complete() == decoded.encode()
    assert view.stamped(7, 1234) == decoded.stamped(7, 1234).encode()
