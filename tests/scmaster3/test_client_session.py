"""The client's protocol logic without I/O, checked against the golden SeisComP3 traces.

Replays feed the session what the real daemon delivered to scdispatch, sctestclient and
scadmin, and compare every body (and whole Spread frame) the session produces for the same
action with what the real client library sent. What differs between runs of a process is
supplied from the trace rather than compared: the connection-info string of CONNECT and
state-of-health reports (time, pid, hostname, IPs, memory, CPU, counters) and the id of a
sync request (which holds a clock reading). Its item layout is checked in test_client_bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from scmaster3.client import (
    AdminRejectedError,
    Answer,
    ClientSession,
    ConnectRejectedError,
    DatabaseOffered,
    Delivery,
    DisconnectOrdered,
    Dropped,
    GroupRejectedError,
    InvalidGroupError,
    MasterGone,
    MessageSizeError,
    Multicast,
    NotConnectedError,
    StatusRequested,
    SyncAnswered,
    WrongServerVersionError,
)
from scmaster3.datamodel import Comment, Notifier, NotifierMessage, SyncRequestMessage
from scmaster3.io import binary
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import (
    ADMIN_GROUP,
    LISTENER_GROUP,
    MASTER_GROUP,
    STATUS_GROUP,
    ConnectOk,
    MessageType,
    NetworkMessage,
    ServiceMessage,
    data_type,
)
from spreadbus import wire

MASTER = "#_MASTER_#localhost"
GROUPS_OK = (
    "Server-Version: Jakarta git-\nGroups: AMPLITUDE,CONFIG,EVENT,FOCMECH,GUI,INVENTORY,LOCATION,LOGGING,"
    "MAGNITUDE,PICK,PUBLICATION,QC,ROUTING,SERVICE_PROVIDE,SERVICE_REQUEST\nSchema-Version: 0.11"
)


@dataclass(frozen=True)
class Frame:
    """One Spread message of a golden SeisComP3 trace."""

    direction: str  # "C>S" or "S>C"
    raw: bytes  # header, group fields and data, as on the wire
    service: int  # service type without the endian bits
    sender: str  # sender (S>C) or own private group (C>S); the group of a membership notice
    groups: tuple[str, ...]
    data: bytes
    mess_type: int | None
    membership: bool


def load_frames(shared_dir: Path, session: str) -> list[Frame]:
    path = shared_dir / "golden" / "sc3" / "traces" / f"{session}.frames.jsonl"
    frames = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if item["kind"] != "message":
            continue
        header = bytes.fromhex(item["header_hex"])
        data = bytes.fromhex(item["data_hex"])
        frames.append(
            Frame(
                direction=item["dir"],
                raw=header + data,
                service=int(item["service_type"], 16) & ~wire.ENDIAN_RESERVED,
                sender=item.get("sender") or item["private_group"],
                groups=tuple(item["groups"]),
                data=data,
                mess_type=item.get("mess_type"),
                membership=bool(item.get("membership")),
            )
        )
    return frames


def regular(frames: list[Frame], direction: str) -> list[Frame]:
    return [f for f in frames if f.direction == direction and f.mess_type is not None]


def wire_frame(out: Multicast, private_group: str) -> bytes:
    """The Spread message a libspread client writes for ``out``."""
    return wire.encode_message(out.service, private_group, [out.group], out.body, out.msg_type)


def admitted(private_group: str, primary_group: str = LISTENER_GROUP, **options) -> ClientSession:
    """A session that received the golden OK from the master."""
    session = ClientSession(private_group, primary_group, **options)
    session.connect_request("&")
    ok = ServiceMessage(
        type=MessageType.CONNECT_GROUP_OK_MSG,
        destination=private_group,
        data=GROUPS_OK.encode(),
        private_sender_group=MASTER,
        tagged=1,
        protocol_version="1.1",
    )
    assert session.handshake_answer(MASTER, ok.mess_type, ok.encode()) is Answer.ADMITTED
    return session


def answer(session: ClientSession, kind: int, version: str = "1.0", data: bytes = b"", sender: str = MASTER):
    reply = ServiceMessage(
        type=kind,
        destination=session.private_group,
        data=data,
        private_sender_group=MASTER,
        protocol_version=version,
        tagged=1,
    )
    return session.handshake_answer(sender, reply.mess_type, reply.encode())


# --- golden replays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trace", "primary", "client_type", "client_priority"),
    [
        ("02_sctestclient_listener", LISTENER_GROUP, 0, 0),
        ("03_scdispatch_add_binary", LISTENER_GROUP, 0, 0),
        ("06_scdispatch_add_xml", LISTENER_GROUP, 0, 0),
        ("11_scadmin_list", ADMIN_GROUP, 1, 1),
    ],
)
def test_connect_request_equals_the_real_client(shared_dir, trace, primary, client_type, client_priority):
    frames = load_frames(shared_dir, trace)
    sent = regular(frames, "C>S")[0]
    golden = ServiceMessage.decode(sent.data)
    session = ClientSession(sent.sender, primary, client_type=client_type, client_priority=client_priority)
    out = session.connect_request(golden.text)  # the info string is the process's own
    assert (out.group, out.msg_type, out.service) == (MASTER_GROUP, -1, 0x44)
    assert out.body == sent.data
    assert wire_frame(out, sent.sender) == sent.raw


def test_scdispatch_binary_session_replayed(shared_dir):
    frames = load_frames(shared_dir, "03_scdispatch_add_binary")
    sent = regular(frames, "C>S")
    received = regular(frames, "S>C")
    me = "#scdisp#localhost"
    session = ClientSession(me)
    session.connect_request(ServiceMessage.decode(sent[0].data).text)

    ok, offer, sync_answer = received
    assert session.handshake_answer(ok.sender, ok.mess_type, ok.data) is Answer.ADMITTED
    assert session.master_group == MASTER
    assert session.groups[:3] == ("STATUS_GROUP", "IMPORT_GROUP", "AMPLITUDE")
    assert len(session.groups) == 17
    assert session.server_version == "Jakarta git-"
    assert session.schema_version == (0, 11)

    event = session.receive(offer.sender, offer.mess_type, offer.data)
    assert event == DatabaseOffered("sqlite3", "seiscomp3.sqlite")
    assert event.url == "sqlite3://seiscomp3.sqlite"

    # The three notifier messages and the sync request, re-encoded from their payloads.
    for frame in sent[1:5]:
        golden = NetworkMessage.decode(frame.data)
        message = decode_payload(golden.data, golden.content_type)
        out = session.message(message, golden.destination)
        assert out.group == MASTER
        assert out.body == frame.data
        assert wire_frame(out, me) == frame.raw
    sync_id = decode_payload(NetworkMessage.decode(sent[4].data).data, 0).id
    assert session.receive(sync_answer.sender, sync_answer.mess_type, sync_answer.data) == SyncAnswered(
        sync_id
    )

    goodbye = session.disconnect_message()
    assert goodbye.body == sent[5].data
    assert wire_frame(goodbye, me) == sent[5].raw
    assert not session.connected


def test_sync_request_of_scdispatch(shared_dir):
    frames = regular(load_frames(shared_dir, "03_scdispatch_add_binary"), "C>S")
    request = NetworkMessage.decode(frames[4].data)
    session = admitted("#scdisp#localhost")
    sync_id = "sync_scdispatch_2026-11-22T03:17:24.564657Z"
    assert session.message(SyncRequestMessage(id=sync_id), STATUS_GROUP).body == frames[4].data
    assert request.destination == STATUS_GROUP


def test_listener_session_replayed(shared_dir):
    """sctestclient: everything the daemon delivered, through the receive filter."""
    frames = load_frames(shared_dir, "02_sctestclient_listener")
    me = "#sctest#localhost"
    session = ClientSession(me)
    sent = regular(frames, "C>S")
    session.connect_request(ServiceMessage.decode(sent[0].data).text)
    incoming = [f for f in frames if f.direction == "S>C"]
    first_ok = next(i for i, f in enumerate(incoming) if f.mess_type == -4)
    for frame in incoming[:first_ok]:
        if frame.mess_type is not None:
            assert session.handshake_answer(frame.sender, frame.mess_type, frame.data) is Answer.IGNORED
    ok = incoming[first_ok]
    assert session.handshake_answer(ok.sender, ok.mess_type, ok.data) is Answer.ADMITTED

    events = []
    for frame in incoming[first_ok + 1 :]:
        if frame.membership:
            body = wire.decode_membership(frame.data)
            reason = frame.service & 0x0F00
            changed = body.changed_member.decode()
            events.append(session.membership(reason, frame.sender, frame.groups, changed))
        else:
            events.append(session.receive(frame.sender, frame.mess_type, frame.data))
    data = [e.message for e in events if isinstance(e, Delivery) and isinstance(e.message, NetworkMessage)]
    # The ten relayed notifier messages of sessions 03-08, in order, none of them dropped.
    assert [(m.destination, m.seq_num) for m in data] == [
        ("PICK", 5), ("LOCATION", 6), ("LOCATION", 7), ("LOCATION", 11), ("PICK", 15),
        ("PICK", 19), ("LOCATION", 20), ("LOCATION", 21), ("LOCATION", 25), ("PICK", 29),
    ]  # fmt: skip
    assert all(m.private_sender_group in ("#scdisp#localhost", "#scdispx#localhost") for m in data)
    services = [
        e.message for e in events if isinstance(e, Delivery) and isinstance(e.message, ServiceMessage)
    ]
    kinds = {m.type for m in services}
    assert kinds <= {-5, -7, -15}  # joins, disconnects, state-of-health reports
    joins = [m for m in services if m.type == MessageType.JOIN_GROUP_MSG]
    assert joins[0].text.startswith("?STATUS_GROUP&#sctest#localhost?#sctest#localhost")
    scdisp_gone = [m for m in services if m.type == MessageType.CLIENT_DISCONNECTED_MSG]
    assert scdisp_gone[0].text == "#scdisp#localhost"
    # Other clients' CONNECT messages on MASTER_GROUP are dropped silently.
    connects = [f for f in incoming if f.mess_type == -1]
    assert connects and all(session.receive(f.sender, -1, f.data) is None for f in connects)

    # The state-of-health reports and the goodbye it sent.
    report = ServiceMessage.decode(sent[1].data)
    out = session.status_report(report.text)
    assert out.body == sent[1].data
    assert wire_frame(out, me) == sent[1].raw
    goodbye = session.disconnect_message()
    assert wire_frame(goodbye, me) == sent[-1].raw


def test_forced_disconnect_replayed(shared_dir):
    frames = load_frames(shared_dir, "10_sctestclient_victim")
    me = "#victim#localhost"
    session = ClientSession(me)
    sent = regular(frames, "C>S")
    received = regular(frames, "S>C")
    session.connect_request(ServiceMessage.decode(sent[0].data).text)
    ok = next(f for f in received if f.mess_type == -4)
    assert session.handshake_answer(ok.sender, ok.mess_type, ok.data) is Answer.ADMITTED
    events = [session.receive(f.sender, f.mess_type, f.data) for f in received[received.index(ok) + 1 :]]
    status = [e for e in events if isinstance(e, StatusRequested)]
    assert [e.requester for e in status] == ["#ADMIN#localhost"]
    assert isinstance(events[-1], DisconnectOrdered)
    goodbye = session.disconnect_message()
    assert goodbye.body == sent[-1].data
    assert wire_frame(goodbye, me) == sent[-1].raw


@pytest.mark.parametrize(
    ("trace", "code", "argument"),
    [
        ("11_scadmin_list", MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG, ""),
        ("12_scadmin_status", MessageType.STATE_OF_HEALTH_CMD_MSG, "#victim#localhost"),
        ("13_scadmin_disconnect", MessageType.CLIENT_DISCONNECT_CMD_MSG, "#victim#localhost"),
    ],
)
def test_admin_commands_equal_scadmin(shared_dir, trace, code, argument):
    frames = load_frames(shared_dir, trace)
    sent = regular(frames, "C>S")
    received = regular(frames, "S>C")
    me = "#ADMIN#localhost"
    session = ClientSession(me, ADMIN_GROUP, client_type=1, client_priority=1)
    session.connect_request(ServiceMessage.decode(sent[0].data).text)
    assert (
        session.handshake_answer(received[0].sender, received[0].mess_type, received[0].data)
        is Answer.ADMITTED
    )
    out = session.command(code, argument)
    assert wire_frame(out, me) == sent[1].raw
    if trace == "11_scadmin_list":
        reply = received[2]
        event = session.receive(reply.sender, reply.mess_type, reply.data)
        assert isinstance(event, Delivery)
        assert event.message.type == MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG
    if len(sent) > 2:
        assert wire_frame(session.disconnect_message(), me) == sent[2].raw


# --- handshake -----------------------------------------------------------------------------------


def test_connect_request_fields():
    session = ClientSession("#me#localhost", "PICK", password="pw")
    out = session.connect_request("&time=x&")
    request = ServiceMessage.decode(out.body)
    assert request == ServiceMessage(
        type=-1,
        destination=MASTER_GROUP,
        data=b"&time=x&",
        private_sender_group="#me#localhost",
        protocol_version="1.1",
        client_type=0,
        client_priority=0,
        password="pw",
        peer_group="PICK",
    )


def test_master_group_cannot_be_primary():
    with pytest.raises(InvalidGroupError):
        ClientSession("#me#localhost", MASTER_GROUP)


def test_messages_for_others_are_not_the_answer():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    other = ServiceMessage(type=-4, destination="#you#localhost", data=b"Groups: A")
    assert session.handshake_answer(MASTER, -4, other.encode()) is Answer.IGNORED
    data = NetworkMessage(type=1, destination="PICK", data=b"x")
    assert session.handshake_answer(MASTER, 1, data.encode()) is Answer.IGNORED
    assert session.handshake_answer(MASTER, -4, b"\xff\xff") is Answer.IGNORED  # unreadable
    assert not session.connected


def test_protocol_1_0_answer():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    assert answer(session, -4, "1.0", b" PICK,LOCATION ") is Answer.ADMITTED
    assert session.groups == ("STATUS_GROUP", "IMPORT_GROUP", "PICK", "LOCATION")
    assert session.schema_version == (0, 0)
    assert session.server_version is None
    assert session.protocol_version == "1.0"


def test_fallback_to_protocol_1_0():
    session = ClientSession("#me#localhost")
    assert ServiceMessage.decode(session.connect_request("&").body).protocol_version == "1.1"
    assert answer(session, MessageType.INVALID_PROTOCOL_MSG, "1.0") is Answer.RETRY
    retry = ServiceMessage.decode(session.connect_request("&").body)
    assert retry.protocol_version == "1.0"
    assert answer(session, -4, "1.0", b"PICK") is Answer.ADMITTED


def test_fallback_happens_once():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    assert answer(session, MessageType.INVALID_PROTOCOL_MSG, "1.0") is Answer.RETRY
    session.connect_request("&")
    with pytest.raises(WrongServerVersionError):
        answer(session, MessageType.INVALID_PROTOCOL_MSG, "1.0")


def test_invalid_protocol_offering_another_version():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    with pytest.raises(WrongServerVersionError):
        answer(session, MessageType.INVALID_PROTOCOL_MSG, "2.0")


def test_ok_with_unknown_version():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    with pytest.raises(WrongServerVersionError):
        answer(session, -4, "1.2", b"Groups: PICK")
    assert not session.connected


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (MessageType.CONNECT_GROUP_REJECT_MSG, GroupRejectedError),
        (MessageType.ADMIN_REJECT_MSG, AdminRejectedError),
        (MessageType.REJECTED_CMD_MSG, ConnectRejectedError),
    ],
)
def test_rejections_are_typed(kind, error):
    session = ClientSession("#me#localhost", "NOPE")
    session.connect_request("&")
    with pytest.raises(error) as raised:
        answer(session, kind)
    assert raised.value.answer.type == kind
    assert not session.connected


def test_schema_version_is_capped_at_our_own():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    answer(session, -4, "1.1", b"Server-Version: future\nGroups: PICK\nSchema-Version: 0.14")
    assert session.schema_version == (0, 11)
    older = ClientSession("#me#localhost")
    older.connect_request("&")
    answer(older, -4, "1.1", ConnectOk(("PICK",), "x", (0, 10)).format("1.1").encode())
    assert older.schema_version == (0, 10)
    unreadable = ClientSession("#me#localhost")
    unreadable.connect_request("&")
    answer(unreadable, -4, "1.1", b"Server-Version: x\nGroups: PICK\nSchema-Version: 0.11b")
    assert unreadable.schema_version == (0, 0)


def test_schema_version_0_writes_no_archive_header():
    session = ClientSession("#me#localhost")
    session.connect_request("&")
    answer(session, -4, "1.0", b"PICK")
    out = session.message(SyncRequestMessage(id="s"), STATUS_GROUP)
    payload = NetworkMessage.decode(out.body)
    import zlib

    archive = zlib.decompress(payload.data)
    assert not archive.startswith(b"SCBA")
    assert binary.decode(archive).id == "s"


# --- sending -------------------------------------------------------------------------------------


def test_data_message_goes_to_the_master_with_destination():
    session = admitted("#me#localhost", "PICK")
    out = session.data_message(b"xyz")
    assert out.group == MASTER
    assert out.msg_type == 1
    assert NetworkMessage.decode(out.body) == NetworkMessage(
        type=1, destination="PICK", data=b"xyz", private_sender_group="#me#localhost"
    )
    xml = ClientSession("#x#localhost", encoding="xml")
    xml.connect_request("&")
    answer(xml, -4, "1.1", GROUPS_OK.encode())
    assert xml.data_message(b"<x/>", group="PICK").msg_type == 257


def test_send_checks():
    session = admitted("#me#localhost")
    with pytest.raises(InvalidGroupError, match="LISTENER_GROUP"):
        session.data_message(b"x")  # the primary group is not offered
    with pytest.raises(InvalidGroupError):
        session.data_message(b"x", group=MASTER_GROUP)
    with pytest.raises(InvalidGroupError):
        session.data_message(b"x", group="NOPE")
    with pytest.raises(InvalidGroupError):
        session.data_message(b"x", group=ADMIN_GROUP)
    for group in ("PICK", STATUS_GROUP, "IMPORT_GROUP", MASTER):
        assert NetworkMessage.decode(session.data_message(b"x", group=group).body).destination == group
    admin = admitted("#ADMIN#localhost", ADMIN_GROUP)
    assert NetworkMessage.decode(admin.data_message(b"x").body).destination == ADMIN_GROUP


def test_not_connected():
    session = ClientSession("#me#localhost")
    with pytest.raises(NotConnectedError):
        session.data_message(b"x", group="PICK")
    with pytest.raises(NotConnectedError):
        session.command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
    assert session.disconnect_message() is None
    done = admitted("#me#localhost")
    done.disconnect_message()
    with pytest.raises(NotConnectedError):
        done.data_message(b"x", group="PICK")


def test_size_limit():
    session = admitted("#me#localhost")
    overhead = 28 + len("PICK") + len("#me#localhost")
    assert len(session.data_message(bytes(1048576 - overhead), group="PICK").body) == 1048576
    with pytest.raises(MessageSizeError):
        session.data_message(bytes(1048576 - overhead + 1), group="PICK")


def test_empty_notifier_message_is_not_sent():
    session = admitted("#me#localhost")
    assert session.message(NotifierMessage(), "PICK") is None
    notifier = Notifier(parentID="Origin/1", operation="add", object=Comment(text="hi", id="c1"))
    out = session.message(NotifierMessage(attachments=[notifier]), "PICK")
    decoded = decode_payload(NetworkMessage.decode(out.body).data, 0)
    assert decoded.attachments[0].object.text == "hi"


def test_status_report_and_command_fields():
    session = admitted("#me#localhost", "PICK", client_type=2, client_priority=3)
    report = ServiceMessage.decode(session.status_report("&a=1&").body)
    assert (report.type, report.destination, report.client_type, report.client_priority) == (
        -15,
        STATUS_GROUP,
        0,
        1,
    )
    assert report.data == b"&a=1&" and report.protocol_version == "1.0"
    to_admin = ServiceMessage.decode(session.status_report("&", "#ADMIN#localhost").body)
    assert to_admin.destination == "#ADMIN#localhost"
    command = ServiceMessage.decode(session.command(MessageType.STATE_OF_HEALTH_CMD_MSG, "PICK").body)
    assert (command.destination, command.data, command.client_type, command.client_priority) == (
        "PICK",
        b"PICK",
        2,
        3,
    )


def test_archive_request_fields():
    session = admitted("#me#localhost", "PICK")
    out = session.archive_request(4242, 1_700_000_000)
    request = ServiceMessage.decode(out.body)
    assert (out.group, out.msg_type) == (MASTER, MessageType.ARCHIVE_REQUEST_MSG)
    assert (request.type, request.destination, request.private_sender_group) == (
        MessageType.ARCHIVE_REQUEST_MSG,
        "PICK",
        "#me#localhost",
    )
    assert (request.archive_seq_num, request.archive_timestamp, request.data) == (4242, 1_700_000_000, b"")


# --- receiving -----------------------------------------------------------------------------------


def deliver(session, message, sender=MASTER):
    return session.receive(sender, message.mess_type, message.encode())


def test_receive_filter():
    me = "#me#localhost"
    session = admitted(me)
    data = NetworkMessage(
        type=1, destination="PICK", seq_num=7, data=b"x", private_sender_group="#you#localhost"
    )
    assert deliver(session, data) == Delivery(data)
    assert deliver(session, NetworkMessage(type=1, destination="PICK", private_sender_group=me)) is None
    archived = NetworkMessage(type=2, destination="PICK", private_sender_group="#you#localhost")
    assert deliver(session, archived) is None
    session.archive_groups.add("PICK")
    assert deliver(session, archived) == Delivery(archived)
    for kind in (-7, -5, -6, -15, -18, -16):
        message = ServiceMessage(type=kind, destination=me)
        assert deliver(session, message) == Delivery(message)
    for kind in (-1, -2, -3, -4, -12, -13, -17):
        assert deliver(session, ServiceMessage(type=kind, destination=me)) is None
    status = ServiceMessage(type=-14, destination=me, private_sender_group="#ADMIN#localhost")
    assert deliver(session, status) == StatusRequested(status)
    order = ServiceMessage(type=-19, destination=me)
    assert deliver(session, order) == DisconnectOrdered(order)
    assert session.receive(MASTER, 0, b"anything") is None
    dropped = session.receive(MASTER, 1, b"\x01\x00\x00\x00\xff\xff\xff\xff")
    assert isinstance(dropped, Dropped) and "negative string length" in dropped.reason
    # A body type whose sign contradicts the Spread message type is malformed.
    assert isinstance(session.receive(MASTER, -4, data.encode()), Dropped)
    # Undecodable master payloads addressed to us are still delivered.
    odd = NetworkMessage(type=1, destination=me, data=b"not zlib")
    assert deliver(session, odd) == Delivery(odd)


def test_master_disconnected_message_ends_the_session():
    session = admitted("#me#localhost")
    gone = ServiceMessage(type=-9, destination=MASTER_GROUP, private_sender_group=MASTER)
    assert deliver(session, gone) == MasterGone(gone)
    assert not session.connected
    assert deliver(session, NetworkMessage(type=1, destination="PICK", private_sender_group="#x#y")) is None


def test_membership_notices():
    session = admitted("#me#localhost")
    join = session.membership(0x100, "PICK", ("#a#localhost", "#me#localhost"), "#a#localhost")
    assert join.message.type == MessageType.JOIN_GROUP_MSG
    assert join.message.text == "?PICK&#a#localhost?#a#localhost&#me#localhost"
    assert join.message.private_sender_group == "#a#localhost"
    leave = session.membership(0x200, "PICK", ("#me#localhost",), "#a#localhost")
    assert leave.message.type == MessageType.LEAVE_GROUP_MSG and leave.message.text == "?PICK&#a#localhost?"
    gone = session.membership(0x400, MASTER_GROUP, ("#me#localhost",), "#a#localhost")
    assert gone.message.type == MessageType.CLIENT_DISCONNECTED_MSG and gone.message.text == "#a#localhost"
    assert session.membership(0x800, "PICK", (), None) is None  # network change
    assert session.membership(0x200, "PICK", (), None) is None  # own leave
    master = session.membership(0x400, MASTER_GROUP, ("#me#localhost",), MASTER)
    assert isinstance(master, MasterGone) and master.message.type == MessageType.MASTER_DISCONNECTED_MSG
    assert not session.connected


def test_data_type_of_received_xml():
    session = admitted("#me#localhost")
    xml = NetworkMessage(type=data_type(1, 1), destination="PICK", private_sender_group="#a#b")
    assert deliver(session, xml).message.content_type == 1


def test_scdispatch_xml_session_replayed(shared_dir):
    """The same session with ``--encoding xml``: XML notifier messages and sync request."""
    frames = load_frames(shared_dir, "06_scdispatch_add_xml")
    sent = regular(frames, "C>S")
    received = regular(frames, "S>C")
    me = "#scdispx#localhost"
    session = ClientSession(me, encoding="xml")
    session.connect_request(ServiceMessage.decode(sent[0].data).text)
    assert (
        session.handshake_answer(received[0].sender, received[0].mess_type, received[0].data)
        is Answer.ADMITTED
    )
    for frame in sent[1:5]:
        golden = NetworkMessage.decode(frame.data)
        assert golden.type == 257
        out = session.message(decode_payload(golden.data, golden.content_type), golden.destination)
        assert out.body == frame.data
        assert wire_frame(out, me) == frame.raw
    assert wire_frame(session.disconnect_message(), me) == sent[5].raw
