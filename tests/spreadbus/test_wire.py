"""The sans-IO codec against the golden traces of the real Spread 4.4 daemon and library."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spreadbus import wire


def frames_of(traces, direction):
    """(trace, conn, bytes) of every frame in one direction over all traces, in order."""
    for name, items in traces.items():
        for item in items:
            if item.kind == direction and item.data is not None:
                yield name, item.conn, item.data


def message_frames(traces, direction):
    """The post-handshake message frames (the first ones of each connection are handshake units)."""
    handshake_units = {"C>D": 2, "D>C": 2}
    seen = {}
    for name, conn, data in frames_of(traces, direction):
        key = (name, conn)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > handshake_units[direction] and len(data) >= wire.HEADER_LEN:
            yield name, conn, data


def data_items(items):
    return [i for i in items if i.data is not None]


# --- constants --------------------------------------------------------------------------------


def test_constants_match_the_protocol_tables():
    assert wire.SPREAD_VERSION == 0x04040000 == 67371008
    assert wire.MAX_MESSAGE_BODY_LEN == 14_400_000
    assert wire.MAX_SESSIONS == 997
    assert wire.MAX_LOCAL_GROUP_MEMBERS == 3122
    assert wire.AUTH_CHOICE_LEN == 90
    assert wire.encode_reject_byte(wire.REJECT_NOT_UNIQUE) == b"\xfa"
    assert wire.encode_reject_byte(wire.REJECT_QUOTA) == b"\xfd"
    assert wire.encode_reject_byte(wire.REJECT_AUTH) == b"\xf7"
    assert wire.MEMBERSHIP_MESS == 0x3F00 and wire.REGULAR_MESS == 0x3F


# --- handshake --------------------------------------------------------------------------------


def test_library_connect_messages_encode_byte_exactly(golden_traces):
    items = data_items(golden_traces["01_connect_membership_on"])
    assert wire.encode_connect("alice", membership=True, priority=0) == items[0].data
    assert (
        wire.encode_connect("bob", membership=False)
        == data_items(golden_traces["02_connect_membership_off"])[0].data
    )
    assert (
        wire.encode_connect("", priority=1)
        == data_items(golden_traces["03_connect_empty_name_priority"])[0].data
    )
    # libspread cuts long names to 10 characters
    long_name = [i for i in golden_traces["06_too_long_name"] if i.conn == "B" and i.data][0]
    assert wire.encode_connect("verylongname12") == long_name.data


def test_decode_connect_accepts_library_messages(golden_traces):
    message, used = wire.decode_connect(data_items(golden_traces["03_connect_empty_name_priority"])[0].data)
    assert message == wire.ConnectMessage((4, 4, 0), True, 1, b"")
    assert used == 5 and message.wants_auth and message.wants_patch_byte


@pytest.mark.parametrize(
    "trace, conn, code",
    [
        ("05_illegal_name", "A", wire.REJECT_ILLEGAL_NAME),
        ("05_illegal_name", "B", wire.REJECT_ILLEGAL_NAME),
        ("06_too_long_name", "A", wire.REJECT_ILLEGAL_NAME),
        ("07_old_version", "A", wire.REJECT_VERSION),
    ],
)
def test_decode_connect_rejects_as_the_daemon(golden_traces, trace, conn, code):
    items = [i for i in golden_traces[trace] if i.conn == conn and i.data is not None]
    assert items[1].data == wire.encode_reject_byte(code)
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_connect(items[0].data)
    assert info.value.code == code


def test_decode_connect_decides_on_what_has_arrived():
    message = wire.encode_connect("alice")  # 04 04 00 01 05 "alice"
    # a field missing, or all of the name: Spread closes without a word
    for cut in range(6):
        assert wire.decode_connect(message[:cut]) is None
    # part of the name: REJECT_ILLEGAL_NAME at once, e.g. 5 bytes declared, "al" sent
    for cut in range(6, len(message)):
        with pytest.raises(wire.HandshakeError) as info:
            wire.decode_connect(message[:cut])
        assert (info.value.code, info.value.consumed) == (wire.REJECT_ILLEGAL_NAME, cut)
    assert wire.decode_connect(message) == (wire.ConnectMessage((4, 4, 0), True, 0, b"alice"), 10)


def test_decode_connect_reads_as_spread_does():
    # the 10-byte name read swallows a pipelined auth choice: a length mismatch
    message = wire.encode_connect("alice")
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_connect(message + wire.encode_auth_choice())
    assert (info.value.code, info.value.consumed) == (wire.REJECT_ILLEGAL_NAME, 15)
    # a 10-character name reads exactly 10 bytes, an empty one none: the rest stays
    message10 = wire.encode_connect("abcdefghij")
    assert wire.decode_connect(message10 + b"NULL")[1] == len(message10)
    empty = wire.encode_connect("")
    assert wire.decode_connect(empty + wire.encode_auth_choice())[1] == len(empty)
    # the version is judged as soon as its bytes are in; what follows is left unread
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_connect(b"\x03\x00")
    assert (info.value.code, info.value.consumed) == (wire.REJECT_VERSION, 2)
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_connect(b"\x04\x04\x00\x01\x0b" + b"x" * 11)
    assert (info.value.code, info.value.consumed) == (wire.REJECT_ILLEGAL_NAME, 5)
    # bytes are signed chars: a major version byte of 0x84 is -124, too old
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_connect(b"\x84\x04\x00\x01\x01a")
    assert info.value.code == wire.REJECT_VERSION
    # flags: odd and positive asks for membership messages, value / 16 is the priority
    flags = {f: wire.decode_connect(bytes([4, 4, 0, f, 1]) + b"a")[0] for f in (0x11, 0x10, 0x81)}
    assert [(m.membership, m.priority) for m in flags.values()] == [(True, 1), (False, 1), (False, -7)]


def test_old_clients_send_no_patch_byte_and_skip_auth():
    message = wire.encode_connect("old", version=(3, 15, 2))
    assert message[:3] == b"\x03\x0f\x02"
    decoded, _ = wire.decode_connect(message)
    assert decoded.wants_patch_byte and not decoded.wants_auth
    older = wire.encode_connect("old", version=(3, 14, 0))
    assert older[:3] == b"\x03\x0e\x01"
    decoded, _ = wire.decode_connect(older)
    assert not decoded.wants_patch_byte and not decoded.wants_auth
    assert wire.encode_accept(b"#old#x", with_patch_byte=False) == b"\x01\x04\x04\x06#old#x"


def test_auth_and_accept_frames(golden_traces):
    items = data_items(golden_traces["01_connect_membership_on"])
    assert wire.encode_auth_list() == items[1].data
    assert wire.decode_auth_list(items[1].data) == (["NULL"], 6)
    assert wire.encode_auth_choice() == items[2].data
    assert wire.decode_auth_choice(items[2].data) == (["NULL"], 90)
    assert wire.encode_accept(b"#alice#localhost") == items[3].data
    accept, used = wire.decode_accept(items[3].data)
    assert accept == wire.Accept((4, 4, 0), b"#alice#localhost") and used == len(items[3].data)
    foo = [i for i in golden_traces["08_auth_rejected"] if i.data][2].data
    assert wire.decode_auth_choice(foo) == (["FOO"], 90)


def test_client_side_decoders_raise_on_reject_bytes():
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_auth_list(b"\xfa")
    assert info.value.code == wire.REJECT_NOT_UNIQUE
    with pytest.raises(wire.HandshakeError) as info:
        wire.decode_accept(b"\xf7")
    assert info.value.code == wire.REJECT_AUTH
    assert wire.decode_accept(b"\x01\x04\x04\x00\x05#a#b") is None


# --- messages ---------------------------------------------------------------------------------


def test_every_golden_message_parses_and_reencodes(golden_traces):
    count = 0
    for direction in ("C>D", "D>C"):
        for name, conn, data in message_frames(golden_traces, direction):
            parser = wire.MessageParser(from_daemon=direction == "D>C", max_groups=None)
            parser.feed(data)
            frame = parser.next_frame()
            if frame is None:  # the raw client of trace 22 announcing 101 groups but sending one
                assert (name, conn) == ("22_malformed_headers", "D")
                continue
            assert frame.raw == data, (name, conn)
            assert parser.buffered == 0 and parser.next_frame() is None
            h = frame.header
            rebuilt = wire.pack_header(h.type, h.sender, h.num_groups, h.hint, h.data_len, h.byteorder)
            assert rebuilt + b"".join(frame.group_fields) + frame.data == data
            count += 1
    assert count > 200


def test_fifo_message_with_msg_types(golden_traces):
    sent = [d for _, c, d in message_frames({"12": golden_traces["12_fifo_msg_type"]}, "C>D") if c == "A"]
    data_frames = [d for d in sent if d[0] == 0x84]
    assert wire.encode_message(wire.FIFO_MESS, "#alice#localhost", ["grpA"], b"hello", 7) in data_frames
    parser = wire.MessageParser()
    for d in data_frames:
        parser.feed(d)
    msg_types = [f.header.msg_type for f in parser.frames()]
    assert 7 in msg_types and -2 in msg_types and 0x1234 in msg_types


def test_big_endian_header_decodes_and_hint_stays_raw(golden_traces):
    frames = [
        i.data for i in golden_traces["25_big_endian_client"] if i.conn == "B" and i.kind == "C>D" and i.data
    ]
    fifo = frames[-2]
    header = wire.unpack_header(fifo)
    assert header.byteorder == wire.BIG and header.type == wire.FIFO_MESS
    assert header.num_groups == 1 and header.data_len == 7
    assert header.hint == b"\x00\x00\x05\x00" and wire.decode_hint(header.hint) == (5, wire.BIG)
    assert wire.encode_message(wire.FIFO_MESS, "#bige#localhost", ["grpA"], b"BE data", 5, wire.BIG) == fifo


def test_membership_bodies_decode_and_reencode(golden_traces):
    seen = 0
    for _, _, data in message_frames(golden_traces, "D>C"):
        parser = wire.MessageParser(from_daemon=True, max_groups=None)
        parser.feed(data)
        frame = parser.next_frame()
        h = frame.header
        if not wire.is_membership(h.type):
            continue
        if wire.is_self_leave(h.type):
            assert data == wire.encode_self_leave(h.sender_name)
            continue
        body = wire.decode_membership(frame.data)
        assert body.group_id.proc_id == 0x7F000001 and body.my_vs_set == 0
        assert len(body.vs_sets) == 1 and len(body.vs_sets[0]) == 1
        cause = h.type & ~wire.REG_MEMB_MESS
        again = wire.encode_membership(cause, h.sender_name, frame.groups, body.group_id, body.vs_sets)
        assert again == data
        seen += 1
    assert seen > 40


def test_transitional_and_reject_messages_round_trip():
    gid = wire.GroupId(1, 2, 3)
    trans = wire.encode_transitional("grpA", gid)
    parser = wire.MessageParser(from_daemon=True, max_groups=None)
    reject = wire.encode_reject_message(
        wire.FIFO_MESS | wire.SELF_DISCARD, "#a#b", ["grpA", "#a#b"], b"xyz", wire.encode_hint(9)
    )
    parser.feed(trans + reject)
    t, r = parser.frames()
    assert t.header.type == wire.TRANSITION_MESS and wire.decode_membership(t.data).group_id == gid
    assert r.header.type == wire.REJECT_MESS | wire.SELF_DISCARD
    assert r.old_type == wire.FIFO_MESS | wire.SELF_DISCARD
    assert r.groups == [b"grpA", b"#a#b"] and r.data == b"xyz" and r.header.msg_type == 9


def test_parser_reassembles_byte_by_byte(golden_traces):
    stream = b"".join(
        d for _, c, d in message_frames({"17": golden_traces["17_multigroup"]}, "D>C") if c == "B"
    )
    parser = wire.MessageParser(from_daemon=True, max_groups=None)
    out = []
    for i in range(len(stream)):
        parser.feed(stream[i : i + 1])
        out.extend(parser.frames())
    assert b"".join(f.raw for f in out) == stream and len(out) >= 4


def test_names_cut_at_first_nul(golden_traces):
    kill = [
        d for _, c, d in message_frames({"11": golden_traces["11_join_second_member"]}, "C>D") if c == "A"
    ][-1]
    header = wire.unpack_header(kill)
    assert header.type == wire.KILL_MESS and header.sender_name == b"#bob#localhost"
    parser = wire.MessageParser()
    parser.feed(kill)
    assert parser.next_frame().groups == [b"#bob#localhost"]


def test_private_group_names():
    assert wire.split_private_group(b"#alice#localhost") == (b"alice", b"localhost")
    for bad in (
        b"alice",
        b"#alice",
        b"##localhost",
        b"#alice#",
        b"#a b#x",
        b"#abcdefghijk#x",
        b"#a#" + b"d" * 20,
    ):
        assert wire.split_private_group(bad) is None
    assert wire.encode_name("g" * 40) == b"g" * 31 + b"\0"


# --- hostile input ----------------------------------------------------------------------------


def _header(type_bits=wire.FIFO_MESS, num_groups=1, data_len=0, order=wire.LITTLE):
    return wire.pack_header(
        type_bits, "#a#localhost", num_groups, wire.encode_hint(0, order), data_len, order
    )


@pytest.mark.parametrize(
    "num_groups, data_len",
    [(101, 0), (-1, 0), (1, -5), (0, wire.MAX_MESSAGE_BODY_LEN + 1), (100, wire.MAX_MESSAGE_BODY_LEN - 3200)],
)
def test_parser_rejects_impossible_counts_before_the_body(num_groups, data_len):
    parser = wire.MessageParser()
    parser.feed(_header(num_groups=num_groups, data_len=data_len))
    with pytest.raises(wire.InvalidHeader):
        parser.next_frame()
    with pytest.raises(wire.InvalidHeader):  # stays failed
        parser.next_frame()


def test_parser_rejects_mixed_endian_bits():
    raw = bytearray(_header())
    raw[0] &= 0x7F
    parser = wire.MessageParser()
    parser.feed(bytes(raw))
    with pytest.raises(wire.InvalidHeader):
        parser.next_frame()


def test_header_check_runs_before_the_body_arrives():
    seen = []

    def check(header):
        seen.append(header)
        if header.type & wire.AGREED_MESS:
            raise wire.InvalidHeader("agreed not allowed here")

    parser = wire.MessageParser(check_header=check)
    parser.feed(_header(wire.FIFO_MESS | wire.AGREED_MESS, data_len=1000))
    with pytest.raises(wire.InvalidHeader):
        parser.next_frame()
    assert len(seen) == 1


def test_largest_legal_message_is_accepted_in_chunks():
    data = bytes(range(256)) * (wire.MAX_MESSAGE_BODY_LEN // 256 - 200)
    message = wire.encode_message(wire.SAFE_MESS, "#a#localhost", ["g"], data)
    parser = wire.MessageParser()
    for start in range(0, len(message), 1 << 16):
        parser.feed(message[start : start + (1 << 16)])
        if start + (1 << 16) < len(message):
            assert parser.next_frame() is None
    frame = parser.next_frame()
    assert frame.raw == message


def test_membership_decoder_rejects_truncated_bodies():
    body = wire.encode_membership_body(wire.GroupId(1, 2, 3), [[b"#a#b", b"#c#d"]])
    for cut in (0, 11, 13, 24, len(body) - 1):
        with pytest.raises(wire.InvalidFrame):
            wire.decode_membership(body[:cut])
    inflated = body[:20] + struct.pack("<I", 10**9) + body[24:]
    with pytest.raises(wire.InvalidFrame):
        wire.decode_membership(inflated)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.binary(max_size=300), max_size=8), from_daemon=st.booleans())
def test_parser_only_raises_documented_errors(chunks, from_daemon):
    parser = wire.MessageParser(from_daemon=from_daemon, max_groups=None if from_daemon else 100)
    fed = 0
    returned = 0
    for chunk in chunks:
        parser.feed(chunk)
        fed += len(chunk)
        try:
            for frame in parser.frames():
                returned += len(frame.raw)
                frame.groups, frame.data  # noqa: B018 - accessors must not fail either
        except wire.SpreadWireError:
            return
        assert returned + parser.buffered == fed


@settings(max_examples=100, deadline=None)
@given(
    service=st.sampled_from([wire.UNRELIABLE_MESS, wire.FIFO_MESS, wire.SAFE_MESS | wire.SELF_DISCARD]),
    groups=st.lists(st.binary(min_size=1, max_size=31).filter(lambda b: b"\0" not in b), max_size=5),
    data=st.binary(max_size=200),
    msg_type=st.integers(-32768, 32767),
    order=st.sampled_from([wire.LITTLE, wire.BIG]),
    cut=st.integers(1, 64),
)
def test_encode_parse_round_trip(service, groups, data, msg_type, order, cut):
    message = wire.encode_message(service, "#x#localhost", groups, data, msg_type, order)
    parser = wire.MessageParser()
    frames = []
    for start in range(0, len(message), cut):
        parser.feed(message[start : start + cut])
        frames.extend(parser.frames())
    (frame,) = frames
    assert frame.header.type == service and frame.header.byteorder == order
    assert frame.groups == groups and frame.data == data and frame.header.msg_type == msg_type


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200), order=st.sampled_from([wire.LITTLE, wire.BIG]))
def test_membership_decoder_only_raises_invalid_frame(body, order):
    try:
        wire.decode_membership(body, order)
    except wire.InvalidFrame:
        pass


@settings(max_examples=100, deadline=None)
@given(buf=st.binary(max_size=40))
def test_connect_decoder_only_raises_handshake_errors(buf):
    try:
        result = wire.decode_connect(buf)
    except wire.HandshakeError as exc:
        assert exc.code in (wire.REJECT_VERSION, wire.REJECT_ILLEGAL_NAME)
    else:
        if result is not None:
            message, used = result
            assert used <= len(buf) and len(message.name) <= wire.MAX_PRIVATE_NAME


def test_group_limit_defaults_by_direction():
    members = [f"#m{i}#localhost" for i in range(150)]
    notice = wire.encode_membership(
        wire.CAUSED_BY_JOIN, "big", members, wire.GroupId(1, 2, 3), [[members[0]]]
    )
    from_daemon = wire.MessageParser(from_daemon=True)
    from_daemon.feed(notice)
    assert len(from_daemon.next_frame().groups) == 150
    from_client = wire.MessageParser()
    from_client.feed(wire.encode_message(wire.FIFO_MESS, "#a#b", members))
    with pytest.raises(wire.InvalidHeader):
        from_client.next_frame()
