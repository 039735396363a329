"""NetworkMessage / ServiceMessage bodies against the captures of the real SeisComP3 stack."""

import hashlib
import json
import struct
import tracemalloc
import zlib

import pytest

from scmaster3.protocol import (
    MASTER_REPORT_SERVICE_TYPE,
    MAX_BODY_SIZE,
    MAX_SEQUENCE_COUNTER,
    SERVICE_TYPE,
    ClientPriority,
    ClientType,
    ContentType,
    MessageType,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    client_name,
    client_priority_name,
    client_type_name,
    content_type_of,
    data_type,
    decode_data_field,
    decode_message,
    encode_data_field,
    host_name,
    is_master_member,
    message_type_of,
    next_sequence_number,
    private_group,
    split_driver,
    spread_daemon_address,
    spread_mess_type,
    type_name,
)

# Spec section 2.3: client data message, type 1, destination PICK, data xyz, sender #a#b.
SPEC_DATA_BODY = bytes.fromhex(
    "01000000 04000000 5049434b 00000000 00000000 03000000 78797a 04000000 23612362 00000000"
)
# Spec section 2.4: a CONNECT_GROUP_OK_MSG produced by the C++ serializer.
SPEC_OK_BODY = bytes.fromhex(
    "fcffffff150000002373636175746f7069636b236c6f63616c686f7374010000"
    "0000f153654b0000005365727665722d56657273696f6e3a204a616b61727461"
    "206769742d6162630a47726f7570733a20414d504c49545544452c5049434b0a"
    "536368656d612d56657273696f6e3a20302e313113000000235f4d4153544552"
    "5f236c6f63616c686f73740100000003000000312e3101000000010000000000"
    "0000000000000000000000000000"
)
SPEC_OK_DATA = b"Server-Version: Jakarta git-abc\nGroups: AMPLITUDE,PICK\nSchema-Version: 0.11"


def golden_index(shared_dir):
    payloads = shared_dir / "golden" / "sc3" / "payloads"
    return payloads, json.loads((payloads / "index.json").read_text())


def golden_frames(shared_dir):
    """Every SeisComP3 message of every trace: (session, frame) pairs."""
    for path in sorted((shared_dir / "golden" / "sc3" / "traces").glob("*.frames.jsonl")):
        for line in path.read_text().splitlines():
            frame = json.loads(line)
            if "sc3" in frame:
                yield path.name, frame


# --- golden captures ------------------------------------------------------------------------


def test_every_captured_body_decodes_and_reencodes_byte_identically(shared_dir):
    payloads, index = golden_index(shared_dir)
    assert len(index) == 67
    for entry in index:
        body = (payloads / entry["files"]["netmsg"]).read_bytes()
        assert len(body) == entry["netmsg_len"]
        assert hashlib.sha256(body).hexdigest() == entry["netmsg_sha256"]
        message = decode_message(body, entry["spread_mess_type"])
        assert message.encode() == body, entry["file_prefix"]
        assert type(message).decode(body) == message
        assert message.destination == entry["destination"]
        assert message.private_sender_group == entry["privateSenderGroup"]
        assert message.seq_num == entry["seqNum"]
        assert len(message.data) == entry["data_field_len"]
        assert type_name(message.type) == entry["sc3_type"]
        assert message.mess_type == entry["spread_mess_type"]


def test_captured_data_fields_are_the_zlib_bodies_and_inflate_to_the_archives(shared_dir):
    payloads, index = golden_index(shared_dir)
    data_entries = [entry for entry in index if "body_zlib" in entry["files"]]
    assert len(data_entries) == 40
    for entry in data_entries:
        message = NetworkMessage.decode((payloads / entry["files"]["netmsg"]).read_bytes())
        compressed = (payloads / entry["files"]["body_zlib"]).read_bytes()
        inflated = (payloads / entry["files"]["body_inflated"]).read_bytes()
        assert message.data == compressed
        assert decode_data_field(message.data, message.content_type) == inflated
        assert len(inflated) == entry["body_inflated_len"]
        assert encode_data_field(inflated, message.content_type) == compressed
        expected_content = ContentType.CONTENT_XML if entry["sc3_type"].endswith("XML") else 0
        assert message.content_type == expected_content
        assert message.message_type == MessageType.DATA_MSG


def test_captured_service_data_fields_are_the_text_files(shared_dir):
    payloads, index = golden_index(shared_dir)
    for entry in index:
        if "data_text" in entry["files"]:
            message = ServiceMessage.decode((payloads / entry["files"]["netmsg"]).read_bytes())
            assert message.data == (payloads / entry["files"]["data_text"]).read_bytes()


def test_relayed_copy_differs_from_the_original_only_by_the_stamp(shared_dir):
    payloads, _ = golden_index(shared_dir)
    sent = NetworkMessage.decode(
        (payloads / "03_scdispatch_add_binary_m04_c2s_DATA_MSG_BINARY_PICK.netmsg.bin").read_bytes()
    )
    relayed = NetworkMessage.decode(
        (payloads / "02_sctestclient_listener_m01_s2c_DATA_MSG_BINARY_PICK.netmsg.bin").read_bytes()
    )
    assert (sent.seq_num, sent.timestamp, sent.tagged) == (0, 0, 0)
    assert relayed.tagged == 1
    assert sent.stamped(relayed.seq_num, relayed.timestamp) == relayed


def test_every_traced_message_matches_the_decoded_fields_of_the_capture(shared_dir):
    count = 0
    for session, frame in golden_frames(shared_dir):
        expected = frame["sc3"]
        body = bytes.fromhex(frame["data_hex"])
        message = decode_message(body, frame["mess_type"])
        assert message.encode() == body, (session, frame["seq"])
        assert message.mess_type == frame["mess_type"] == spread_mess_type(expected["type"])
        assert message.type == expected["type"]
        assert message.destination == expected["destination"]
        assert message.seq_num == expected["seqNum"]
        assert message.timestamp == expected["timeStamp"]
        assert message.private_sender_group == expected["privateSenderGroup"]
        assert message.tagged == expected["tagged"]
        assert len(message.data) == expected["data_field_len"]
        if isinstance(message, ServiceMessage):
            assert message.text == expected["body_text"]
            assert message.protocol_version == expected["protocolVersion"]
            assert message.client_type == expected["clientType"]
            assert message.client_priority == expected["clientPriority"]
            assert message.archive_seq_num == expected["archiveSeqNum"]
            assert message.archive_timestamp == expected["archiveTimestamp"]
            assert message.password == expected["password"]
            assert message.peer_group == expected["peerGroup"]
        count += 1
    assert count == 215


def test_traced_spread_service_types(shared_dir):
    endian_flag = 0x80000080
    for _, frame in golden_frames(shared_dir):
        service = int(frame["service_type"], 16) & ~endian_flag
        master_report = (
            frame["sc3"]["type"] == MessageType.STATE_OF_HEALTH_RESPONSE_MSG
            and frame["sc3"]["tagged"] == 0
            and frame["sc3"]["privateSenderGroup"] == "#_MASTER_#localhost"
        )
        assert service == (MASTER_REPORT_SERVICE_TYPE if master_report else SERVICE_TYPE)


# --- the examples of the specification ------------------------------------------------------


def test_spec_data_message_example():
    message = NetworkMessage(type=1, destination="PICK", data=b"xyz", private_sender_group="#a#b")
    assert message.encode() == SPEC_DATA_BODY
    assert len(SPEC_DATA_BODY) == 39 == 28 + 4 + 3 + 4
    assert decode_message(SPEC_DATA_BODY, 1) == message


def test_spec_connect_ok_example():
    message = ServiceMessage(
        type=MessageType.CONNECT_GROUP_OK_MSG,
        destination="#scautopick#localhost",
        seq_num=1,
        timestamp=1700000000,
        data=SPEC_OK_DATA,
        private_sender_group="#_MASTER_#localhost",
        tagged=1,
        protocol_version="1.1",
    )
    assert message.encode() == SPEC_OK_BODY
    assert len(SPEC_OK_BODY) == 174
    assert decode_message(SPEC_OK_BODY, -4) == message


def test_service_message_defaults_are_those_of_a_fresh_cpp_object():
    message = ServiceMessage(type=MessageType.REJECTED_CMD_MSG)
    assert message.protocol_version == "1.0"
    assert message.client_type == ClientType.TYPE_ONE
    assert message.client_priority == ClientPriority.PRIORITY_HIGH
    assert (message.archive_seq_num, message.archive_timestamp, message.password, message.peer_group) == (
        0,
        0,
        "",
        "",
    )


# --- what a reader tolerates, and what it refuses --------------------------------------------


def test_data_body_read_as_service_message_keeps_the_defaults():
    # Verified against the C++ reader: the trailing service fields keep their defaults.
    message = ServiceMessage.decode(SPEC_DATA_BODY)
    assert message.protocol_version == "1.0"
    assert (message.client_type, message.client_priority) == (1, 1)
    assert message.data == b"xyz"


def field_boundaries(body):
    """Offsets where each field of a ServiceMessage body starts, and its name."""
    names = [
        ("type", 4),
        ("destination", None),
        ("seq_num", 4),
        ("timestamp", 4),
        ("data", None),
        ("private_sender_group", None),
        ("tagged", 4),
        ("protocol_version", None),
        ("client_type", 4),
        ("client_priority", 4),
        ("archive_seq_num", 4),
        ("archive_timestamp", 4),
        ("password", None),
        ("peer_group", None),
    ]
    offset = 0
    for name, size in names:
        yield offset, name
        if size is None:
            size = 4 + struct.unpack_from("<i", body, offset)[0]
        offset += size
    assert offset == len(body)


def test_body_ending_between_fields_leaves_the_rest_at_defaults():
    full = ServiceMessage.decode(SPEC_OK_BODY)
    defaults = ServiceMessage(type=0)
    names = [name for _, name in field_boundaries(SPEC_OK_BODY)]
    for index, (offset, _) in enumerate(field_boundaries(SPEC_OK_BODY)):
        message = ServiceMessage.decode(SPEC_OK_BODY[:offset])
        for position, name in enumerate(names):
            source = full if position < index else defaults
            assert getattr(message, name) == getattr(source, name), (offset, name)


def test_body_ending_inside_a_field_is_refused_with_field_and_offset():
    boundaries = dict(field_boundaries(SPEC_OK_BODY))
    starts = sorted(boundaries)
    for cut in range(1, len(SPEC_OK_BODY)):
        if cut in boundaries:
            continue
        field_start = max(start for start in starts if start < cut)
        with pytest.raises(ProtocolError) as caught:
            ServiceMessage.decode(SPEC_OK_BODY[:cut])
        assert caught.value.offset == field_start
        assert caught.value.field == boundaries[field_start]
        assert f"offset {field_start}" in str(caught.value)


def test_bytes_after_the_last_field_are_ignored():
    assert ServiceMessage.decode(SPEC_OK_BODY + b"leftover") == ServiceMessage.decode(SPEC_OK_BODY)
    assert NetworkMessage.decode(SPEC_DATA_BODY + b"\x00") == NetworkMessage.decode(SPEC_DATA_BODY)


def test_negative_string_length_is_refused():
    body = struct.pack("<ii", 1, -1) + b"PICK"
    with pytest.raises(ProtocolError, match="negative string length -1") as caught:
        NetworkMessage.decode(body)
    assert (caught.value.offset, caught.value.field) == (4, "destination")


def test_huge_string_length_is_refused_without_allocating_it():
    body = struct.pack("<ii", 1, 0x7FFFFFFF) + b"PICK"
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="runs past the end") as caught:
            decode_message(body, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000
    assert caught.value.offset == 4


def test_oversized_body_is_refused_and_not_produced():
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        NetworkMessage.decode(b"\x01\x00\x00\x00" + bytes(MAX_BODY_SIZE))
    too_big = NetworkMessage(type=1, data=bytes(MAX_BODY_SIZE - 28 + 1))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        too_big.encode()
    largest = NetworkMessage(type=1, data=bytes(MAX_BODY_SIZE - 28))
    assert len(largest.encode()) == MAX_BODY_SIZE


def test_parser_is_chosen_by_the_spread_message_type():
    assert isinstance(decode_message(SPEC_DATA_BODY, 1), NetworkMessage)
    assert isinstance(decode_message(SPEC_OK_BODY, -4), ServiceMessage)
    assert isinstance(decode_message(SPEC_DATA_BODY), NetworkMessage)
    assert isinstance(decode_message(SPEC_OK_BODY), ServiceMessage)


@pytest.mark.parametrize(
    ("body", "mess_type", "reason"),
    [
        (SPEC_DATA_BODY, 0, "type 0 carries no"),
        (SPEC_DATA_BODY, -1, "contradicts"),
        (SPEC_OK_BODY, 4, "contradicts"),
        (NetworkMessage(type=0).encode(), 1, "UNDEFINED_MSG"),
        (b"", 1, "UNDEFINED_MSG"),
        (b"\x01\x00", None, "no type field"),
    ],
)
def test_messages_a_receiver_must_drop(body, mess_type, reason):
    with pytest.raises(ProtocolError, match=reason):
        decode_message(body, mess_type)


@pytest.mark.parametrize(
    "message",
    [
        NetworkMessage(type=2**31),
        NetworkMessage(type=1, seq_num=-(2**31) - 1),
        ServiceMessage(type=-1, archive_timestamp=2**32),
        NetworkMessage(type=1, destination="caf\u20ac"),
        ServiceMessage(type=-1, peer_group="\u0100"),
    ],
)
def test_fields_that_cannot_be_written_raise_protocol_error(message):
    with pytest.raises(ProtocolError):
        message.encode()


def test_text_fields_carry_any_byte():
    every_byte = bytes(range(256))
    message = NetworkMessage(type=1, destination=every_byte.decode("latin-1"), data=every_byte)
    decoded = NetworkMessage.decode(message.encode())
    assert decoded.destination.encode("latin-1") == every_byte
    assert decoded == message


# --- data field -----------------------------------------------------------------------------


def test_uncompressed_content_types_travel_as_they_are():
    for content in (2, 3, 5, 7):
        assert encode_data_field(b"<x/>", content) == b"<x/>"
        assert decode_data_field(b"<x/>", content) == b"<x/>"
    assert decode_data_field(encode_data_field(b"{}", 6), 6) == b"{}"


@pytest.mark.parametrize(
    ("data", "content", "reason"),
    [
        (b"not zlib", 0, "not a zlib stream"),
        (zlib.compress(b"x" * 1000)[:-6], 1, "truncated"),
        (zlib.compress(bytes(10_000)), 0, "more than 1000 bytes"),
        (b"", 9, "unknown content type 9"),
    ],
)
def test_bad_data_fields(data, content, reason):
    with pytest.raises(ProtocolError, match=reason):
        decode_data_field(data, content, max_size=1000)


def test_inflating_exactly_to_the_limit_is_allowed():
    data = encode_data_field(bytes(1000), 0)
    assert decode_data_field(data, 0, max_size=1000) == bytes(1000)


# --- constants ------------------------------------------------------------------------------


def test_data_type_values():
    values = [data_type(MessageType.DATA_MSG, content) for content in ContentType]
    assert values == [1, 257, 513, 769, 1025, 1281, 1537, 1793]
    assert data_type() == 1
    assert (message_type_of(257), content_type_of(257)) == (1, 1)
    assert data_type(MessageType.ARCHIVE_MSG, 0) == 2


def test_type_names():
    assert type_name(-12) == "INVAlID_ARCHIVE_REQUEST_MSG"
    assert MessageType.INVALID_ARCHIVE_REQUEST_MSG is MessageType.INVAlID_ARCHIVE_REQUEST_MSG
    assert type_name(-19) == "CLIENT_DISCONNECT_CMD_MSG"
    assert type_name(1) == "DATA_MSG/BINARY"
    assert type_name(1793) == "DATA_MSG/UNCOMPRESSED_JSON"
    assert type_name(2) == "ARCHIVE_MSG/BINARY"
    assert type_name(0) == "UNDEFINED_MSG"
    assert type_name(-20) == "UNKNOWN(-20)"
    assert type_name(256) == "UNKNOWN(256)"
    assert type_name(8 << 8 | 1) == "UNKNOWN(2049)"
    assert [code.value for code in MessageType if code < 0] == list(range(-1, -20, -1))


def test_client_type_and_priority_names_are_clamped():
    assert client_type_name(0) == "CLIENT_TYPE_DEFAULT"
    assert client_type_name(1) == "CLIENT_TYPE_ONE"
    assert client_type_name(7) == "CLIENT_TYPE_THREE"
    assert client_type_name(-3) == "CLIENT_TYPE_DEFAULT"
    assert client_priority_name(1) == "CLIENT_PRIORITY_HIGH"
    assert client_priority_name(3) == "CLIENT_PRIORITY_LOW"
    assert client_priority_name(2**31 - 1) == "CLIENT_PRIORITY_LOW"


def test_sequence_numbers_wrap_at_a_multiple_of_the_archive_size():
    assert MAX_SEQUENCE_COUNTER == 63000
    assert next_sequence_number(0) == 1
    assert next_sequence_number(62999) == 63000
    assert next_sequence_number(63000) == 0


def test_spread_message_type_is_the_body_type_in_16_bits():
    assert SERVICE_TYPE == 0x44
    assert spread_mess_type(-4) == -4
    assert spread_mess_type(1793) == 1793
    assert spread_mess_type(0x8001) == -0x7FFF
    assert spread_mess_type(0x10001) == 1


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "host"),
    [
        ("#ADMIN#localhost", "ADMIN", "localhost"),
        ("#scautopick#localhost", "scautopick", "localhost"),
        ("ADMIN", "ADMIN", "ADMIN"),
        ("", "", ""),
        ("#a##b", "a", "b"),
        ("##a#b", "a", "b"),
        ("x#y", "y", "y"),
    ],
)
def test_client_and_host_name_extraction(group, name, host):
    assert client_name(group) == name
    assert host_name(group) == host


def test_master_detection():
    assert is_master_member("#_MASTER_#localhost")
    assert not is_master_member("#_MASTER_#localhost#x")
    assert not is_master_member("_MASTER_")
    assert not is_master_member("#scmaster#localhost")
    assert private_group("_MASTER_") == "#_MASTER_#localhost"
    assert private_group("x", "d1") == "#x#d1"


@pytest.mark.parametrize(
    ("address", "daemon"),
    [
        ("", "4803@localhost"),
        ("localhost", "4803@localhost"),
        ("127.0.0.1:15803", "15803@127.0.0.1"),
        ("spread://host:4804", "4804@host"),
        ("4803@somehost", "4803@somehost"),
        ("4803", "4803@4803"),
    ],
)
def test_spread_daemon_address(address, daemon):
    assert spread_daemon_address(address) == daemon


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("a:b:c", "more than one"),
        ("host:port", "not a number"),
        ("host:0", "not a number"),
        ("hmb://host", "not supported"),
    ],
)
def test_bad_addresses(address, reason):
    with pytest.raises(ProtocolError, match=reason):
        spread_daemon_address(address)


def test_master_command_line_refuses_the_spread_form():
    with pytest.raises(ProtocolError, match="port@host"):
        spread_daemon_address("4803@localhost", allow_spread_form=False)
    assert spread_daemon_address("localhost:4803", allow_spread_form=False) == "4803@localhost"
    assert split_driver("hmbs://h") == ("hmbs", "h")
