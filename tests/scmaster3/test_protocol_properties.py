"""Round trips and fuzzing of the protocol codecs: decoding only ever fails with ProtocolError."""

import os
import struct
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scmaster3.protocol import (
    ClientListEntry,
    ClientStatus,
    ConnectOk,
    MembershipChange,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    connection_info_value,
    decode_data_field,
    decode_message,
    format_client_list,
    format_connection_info,
    parse_client_list,
    parse_connection_info,
    parse_schema_version,
)

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40)
payload = st.binary(max_size=300)

network_messages = st.builds(
    NetworkMessage,
    type=int32,
    destination=latin1,
    seq_num=int32,
    timestamp=int32,
    data=payload,
    private_sender_group=latin1,
    tagged=int32,
)
service_messages = st.builds(
    ServiceMessage,
    type=int32,
    destination=latin1,
    seq_num=int32,
    timestamp=int32,
    data=payload,
    private_sender_group=latin1,
    tagged=int32,
    protocol_version=latin1,
    client_type=int32,
    client_priority=int32,
    archive_seq_num=int32,
    archive_timestamp=int32,
    password=latin1,
    peer_group=latin1,
)


@EXAMPLES
@given(st.one_of(network_messages, service_messages))
def test_encode_then_decode_is_the_identity(message):
    body = message.encode()
    assert type(message).decode(body) == message
    assert type(message).decode(body).encode() == body
    positive = isinstance(message, NetworkMessage)
    if message.type != 0 and (message.type > 0) == positive:
        assert decode_message(body) == message
        # The 16-bit Spread message type can lose the sign of a body type beyond 16 bits.
        if message.mess_type != 0 and (message.mess_type > 0) == positive:
            assert decode_message(body, message.mess_type) == message


@EXAMPLES
@given(st.one_of(network_messages, service_messages), st.data())
def test_every_prefix_decodes_to_defaults_or_raises_protocol_error(message, data):
    body = message.encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    try:
        decoded = type(message).decode(body[:cut])
    except ProtocolError as error:
        assert error.offset is not None and 0 <= error.offset < cut
        return
    # A clean cut between fields: the fields read are the original ones, the rest defaults.
    assert decoded.encode().startswith(body[:cut])


@EXAMPLES
@given(st.binary(max_size=200), st.one_of(st.none(), st.integers(min_value=-(2**15), max_value=2**15 - 1)))
@example(struct.pack("<ii", 1, -5), 1)
@example(struct.pack("<ii", -1, 2**31 - 1), -1)
def test_arbitrary_bytes_decode_or_raise_protocol_error(body, mess_type):
    try:
        message = decode_message(body, mess_type)
    except ProtocolError:
        return
    assert message.type != 0
    assert type(message).decode(message.encode()) == message


@EXAMPLES
@given(st.one_of(network_messages, service_messages), st.data())
def test_mutated_bodies_decode_or_raise_protocol_error(message, data):
    body = bytearray(message.encode())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[position] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        decode_message(bytes(body), data.draw(st.sampled_from([None, 1, -1, 257])))
    except ProtocolError:
        pass


@EXAMPLES
@given(st.binary(max_size=200), st.integers(min_value=-2, max_value=9))
def test_arbitrary_data_fields_inflate_or_raise_protocol_error(data, content_type):
    try:
        decode_data_field(data, content_type, max_size=10_000)
    except ProtocolError:
        pass


# --- text payloads --------------------------------------------------------------------------

item_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
item_value = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="&"), max_size=20
)
group = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_#0123456789", min_size=1, max_size=20)
field_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="&?"), max_size=20
)


@EXAMPLES
@given(st.dictionaries(item_name, item_value, max_size=8))
def test_connection_info_round_trip(items):
    text = format_connection_info(items.items())
    assert parse_connection_info(text) == items
    for name, value in items.items():
        assert connection_info_value(text, name) == value


@EXAMPLES
@given(st.lists(st.builds(ClientListEntry, *[field_text] * 7), max_size=5))
def test_client_list_round_trip(entries):
    assert parse_client_list(format_client_list(entries)) == entries


@EXAMPLES
@given(group, group, st.lists(group, min_size=1, max_size=5))
def test_membership_round_trip(name, member, members):
    join = MembershipChange(name, member, tuple(members))
    assert MembershipChange.parse(join.format_join()) == join
    assert MembershipChange.parse(join.format_leave()) == MembershipChange(name, member)


@EXAMPLES
@given(
    st.lists(group, min_size=1, max_size=6),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
    st.tuples(st.integers(0, 65535), st.integers(0, 65535)),
)
def test_connect_ok_round_trip(groups, server_version, schema_version):
    ok = ConnectOk(tuple(groups), server_version, schema_version)
    assert ConnectOk.parse(ok.format("1.1"), "1.1") == ok
    assert ConnectOk.parse(ok.format("1.0"), "1.0") == ConnectOk(tuple(groups))


@EXAMPLES
@given(st.text(max_size=200))
def test_text_readers_never_fail_unexpectedly(text):
    ClientStatus.parse(text).memory_usage_percent()
    parse_connection_info(text)
    parse_schema_version(text)
    for version in ("1.0", "1.1"):
        ConnectOk.parse(text, version)
    for reader in (parse_client_list, MembershipChange.parse):
        try:
            reader(text)
        except ProtocolError:
            pass


def test_fuzz_target_runs_clean(shared_dir):
    # A short run of fuzz/fuzz_sc3_protocol.py: the target works and finds nothing on its seeds.
    target = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_sc3_protocol.py"
    result = subprocess.run(
        [sys.executable, str(target), "3000", "7"],
        env=dict(os.environ, SCMASTER3_SHARED=str(shared_dir)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "no findings"
