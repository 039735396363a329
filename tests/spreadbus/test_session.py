"""The session state machine alone (no sockets): one read per handshake stage, the bytes
Spread would leave unread when it closes, and JOIN/LEAVE of any name."""

import pytest

from spreadbus import wire
from spreadbus.session import ConnectRequested, Established, Join, Kill, Leave, Refused, Session, State

ALICE = b"#alice#localhost"


def admitted(name: bytes = b"alice") -> Session:
    """A session that has sent its connect message and got the auth list."""
    session = Session(b"localhost")
    (requested,) = session.receive_data(wire.encode_connect(name))
    assert isinstance(requested, ConnectRequested)
    assert session.admit(name) == wire.encode_auth_list()
    return session


def opened() -> Session:
    session = admitted()
    established, *rest = session.receive_data(wire.encode_auth_choice())
    assert isinstance(established, Established) and rest == []
    return session


@pytest.mark.parametrize(
    "first_read, expected",
    [
        (b"\x04", Refused(None, "incomplete connect message (1 bytes)", b"", 0)),
        (b"\x04\x04\x00\x01\x05", Refused(None, "incomplete connect message (5 bytes)", b"", 0)),
        (b"\x04\x04\x00\x01\x05al", Refused(wire.REJECT_ILLEGAL_NAME, "", b"\xfb", 0)),
        (b"\x04\x04\x00\x01\x0b" + b"x" * 11, Refused(wire.REJECT_ILLEGAL_NAME, "", b"\xfb", 11)),
        (b"\x03\x00\x01\x04olde", Refused(wire.REJECT_VERSION, "", b"\xf9", 6)),
    ],
)
def test_connect_message_is_judged_on_the_first_read(first_read, expected):
    session = Session(b"localhost")
    (refused,) = session.receive_data(first_read)
    assert (refused.code, refused.reply, refused.unread) == (expected.code, expected.reply, expected.unread)
    if expected.reason:
        assert refused.reason == expected.reason
    assert session.state is State.CLOSED
    assert session.receive_data(b"ice") == []  # the rest comes too late


def test_auth_choice_is_judged_on_the_first_read():
    session = admitted()
    assert session.receive_data(b"") == []  # nothing read yet
    (refused,) = session.receive_data(wire.encode_auth_choice()[:45])
    assert (refused.code, refused.reply, refused.unread) == (wire.REJECT_AUTH, b"\xf7", 0)
    assert session.state is State.CLOSED


def test_end_of_stream_instead_of_the_auth_choice_is_refused():
    session = admitted()
    (refused,) = session.receive_eof()
    assert (refused.code, refused.reply) == (wire.REJECT_AUTH, b"\xf7")


def test_unknown_auth_method_leaves_what_follows_unread():
    session = admitted()
    (refused,) = session.receive_data(wire.encode_auth_choice(["FOO"]) + b"xyz")
    assert (refused.code, refused.unread) == (wire.REJECT_AUTH, 3)


def test_auth_choice_pipelined_behind_an_empty_name_is_read_after_admit():
    session = Session(b"localhost")
    join = wire.encode_message(wire.JOIN_MESS, b"#r1-1#localhost", ["g"])
    (requested,) = session.receive_data(wire.encode_connect("") + wire.encode_auth_choice() + join)
    assert requested.message.name == b""
    session.admit(b"r1-1")
    established, joined = session.receive_data(b"")
    assert isinstance(established, Established) and joined == Join(b"g")


def test_invalid_header_leaves_its_body_unread():
    session = opened()
    bad = wire.encode_message(wire.FIFO_MESS | wire.AGREED_MESS, ALICE, ["g"], b"body")
    after = wire.encode_message(wire.FIFO_MESS, ALICE, ["g"], b"after")
    (dropped,) = session.receive_data(bad + after)
    assert dropped.unread == len(bad) + len(after) - wire.HEADER_LEN
    assert session.state is State.CLOSED


def test_kill_leaves_what_follows_unread():
    session = opened()
    kill = wire.encode_message(wire.KILL_MESS, ALICE, [ALICE])
    assert session.receive_data(kill) == [Kill(0)]
    session = opened()
    after = wire.encode_message(wire.FIFO_MESS, ALICE, ["g"], b"after")
    assert session.receive_data(kill + after) == [Kill(len(after))]


def test_join_and_leave_take_the_first_name_as_sent():
    session = opened()
    header = wire.pack_header(wire.JOIN_MESS, ALICE, 0, wire.encode_hint(0), 0)
    assert session.receive_data(header) == []  # no group at all: ignored
    names = [b"a b", "\u00fcber".encode(), b"tab\tx", b"", ALICE, b"Q" * 32]
    for name in names:
        raw = wire.pack_header(wire.LEAVE_MESS, ALICE, 2, wire.encode_hint(0), 0)
        field = name.ljust(32, b"\0")
        assert session.receive_data(raw + field + wire.encode_name("second")) == [Leave(name)]
    assert session.receive_data(wire.encode_message(wire.JOIN_MESS, ALICE, [b"g\0garbage"])) == [Join(b"g")]
    assert session.state is State.OPEN
