"""Every golden trace of the real Spread 4.4 daemon, replayed against spreadbusd.

Each connection of a trace is a real socket (TCP, or the unix socket for trace 24). The
items are replayed in file order: a ``C>D`` frame is sent, a ``D>C`` frame is read from its
connection and compared byte for byte, an EOF is produced or awaited. Because reads block
until the daemon has answered, a connection's sends go out only after the frames listed
before them have arrived, which is what the (approximate) cross-connection order of the
traces guarantees.

What is masked, and why:

* ``group_id.time`` (bytes 4..7 of a membership body): the second the daemon started, so
  it differs from run to run. Within one replay it must be one constant value.
* ``group_id.proc_id`` is *not* masked: the daemon listens on 127.0.0.1 like the recorded
  one, so it must write 0x7f000001 as the recorded daemon did.
* The daemon-chosen private name (trace 03, ``r<random>-<fd>``): the random part and the
  socket number vary. The accept is checked for the form; the client's later frames carry
  the name this daemon chose instead of the recorded one.
* Bytes after the NUL of name fields the client sends (libspread's KILL garbage) are sent
  as recorded; the daemon must ignore them. Nothing the daemon sends is masked there.
* Closes are not masked: where the recording saw the daemon reset a connection (it closed
  with client bytes unread), spreadbusd must reset it too; elsewhere it must end it
  normally.

The ``# API SP_receive`` lines say what libspread made of each message; the frames this
daemon sent are run through the same reading (``library_view``, built on ``wire``) and must
give the recorded values, so a client built on ``wire`` reports what libspread reports.
"""

import contextlib
import re
import socket
import struct

import pytest

from spreadbus import wire

TIMEOUT = 5.0


class Replayed:
    """One connection of the trace: socket, handshake stage, name substitution."""

    def __init__(self, sock):
        self.sock = sock
        self.stage = "auth"  # the next unit from the daemon: auth list, accept, messages
        self.recorded_group = None
        self.actual_group = None
        self.messages = []  # message frames received, for the SP_receive records
        self.receives = []  # the recorded SP_receive results

    def recv_exact(self, n):
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise AssertionError(f"connection closed while {n} more bytes were expected")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read_unit(self):
        """The next unit the daemon sends, delimited by the protocol's own structure."""
        if self.stage == "auth":
            first = self.recv_exact(1)
            if first[0] >= 0x80:
                return first
            self.stage = "accept"
            return first + self.recv_exact(first[0])
        if self.stage == "accept":
            first = self.recv_exact(1)
            if first[0] != wire.ACCEPT_SESSION:
                return first
            head = first + self.recv_exact(4)
            self.stage = "messages"
            return head + self.recv_exact(head[4])
        header = self.recv_exact(wire.HEADER_LEN)
        parsed = wire.unpack_header(header)
        frame = header + self.recv_exact(32 * parsed.num_groups + parsed.data_len)
        self.messages.append(frame)
        return frame

    def expect_eof(self, reset):
        try:
            rest = self.sock.recv(65536)
        except ConnectionResetError:
            assert reset, "the daemon reset the connection instead of closing it"
            return
        assert rest == b"", f"expected the daemon to close, got {rest.hex()}"
        assert not reset, "the daemon closed the connection instead of resetting it"


def substitute_name(frame, recorded, actual):
    """The client's message with ``recorded`` replaced by ``actual`` in every name field."""
    if recorded is None or recorded == actual or len(frame) < wire.HEADER_LEN:
        return frame
    header = wire.unpack_header(frame)
    out = bytearray(frame)
    for offset in [4] + [wire.HEADER_LEN + 32 * i for i in range(header.num_groups)]:
        if wire.decode_name(frame[offset : offset + 32]) == recorded:
            out[offset : offset + 32] = wire.encode_name(actual)
    return bytes(out)


def mask_group_time(frame, times):
    """Zero group_id.time in a membership frame; collect the value seen."""
    if len(frame) < wire.HEADER_LEN:
        return frame
    header = wire.unpack_header(frame)
    if not header.type & (wire.REG_MEMB_MESS | wire.TRANSITION_MESS) or header.data_len < 12:
        return frame
    at = wire.HEADER_LEN + 32 * header.num_groups + 4
    times.add(struct.unpack_from("<i", frame, at)[0])
    return frame[:at] + bytes(4) + frame[at + 4 :]


def library_view(frame, own_group):
    """What SP_receive returns for ``frame`` (spec 13.3), from ``wire`` alone."""
    parser = wire.MessageParser(from_daemon=True, max_groups=None)
    parser.feed(frame)
    parsed = parser.next_frame()
    h = parsed.header
    groups = [g.decode() for g in parsed.groups]
    if wire.is_regular(h.type):
        mess_type, order = wire.decode_hint(h.hint)
        mismatch = int(order != wire.LITTLE)
    elif h.type & wire.REG_MEMB_MESS:
        mess_type = groups.index(own_group) if own_group in groups else -1
        mismatch = 0
    else:
        mess_type, mismatch = -1, 0
    return {
        "ret": h.data_len,
        "service_type": h.type,
        "sender": h.sender_name.decode(),
        "num_groups": h.num_groups,
        "groups": groups,
        "mess_type": mess_type,
        "endian_mismatch": mismatch,
        "data_hex": parsed.data.hex(),
    }


def check_receives(conn, times):
    assert len(conn.receives) <= len(conn.messages)
    if not conn.receives:
        return
    own = conn.actual_group.decode()
    for frame, recorded in zip(conn.messages, conn.receives, strict=False):
        view = library_view(frame, own)
        expected = {key: recorded[key] for key in view}
        if view["service_type"] & wire.REG_MEMB_MESS:
            (time_value,) = times
            expected["data_hex"] = (
                expected["data_hex"][:8] + struct.pack("<i", time_value).hex() + expected["data_hex"][16:]
            )
        assert view == expected


def replay(items, daemon):
    conns = {}
    times = set()
    for item in items:
        if item.kind == "API":
            if item.api == "SP_receive":
                conns[item.conn].receives.append(item.api_args)
            continue
        if item.kind == "OPEN":
            if item.api == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(daemon.unix_path)
            else:
                sock = socket.create_connection(("127.0.0.1", daemon.port))
            sock.settimeout(TIMEOUT)
            conns[item.conn] = Replayed(sock)
            continue
        conn = conns[item.conn]
        if item.kind == "C>D":
            if item.eof:
                with contextlib.suppress(OSError):  # not connected any more after a reset
                    conn.sock.shutdown(socket.SHUT_WR)
            else:
                data = substitute_name(item.data, conn.recorded_group, conn.actual_group)
                try:
                    conn.sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon has closed already; the next D>C EOF says if rightly
            continue
        if item.eof:
            conn.expect_eof(item.reset)
            continue
        stage = conn.stage
        got = conn.read_unit()
        expected = item.data
        if stage == "accept" and got[0] == wire.ACCEPT_SESSION:
            conn.recorded_group = expected[5:]
            conn.actual_group = got[5:]
            if re.fullmatch(rb"#r\d+-\d+#localhost", conn.recorded_group):
                # a daemon-chosen name: check its form, then go on with the one we got
                assert got[:4] == expected[:4]
                assert (
                    re.fullmatch(rb"#r\d{1,4}-\d{1,4}#localhost", got[5:])
                    and len(got[5:].split(b"#")[1]) <= 9
                )
                assert got[4] == len(got) - 5
                continue
        expected = substitute_name(expected, conn.recorded_group, conn.actual_group)
        assert mask_group_time(got, times).hex() == mask_group_time(expected, set()).hex()
    for conn in conns.values():
        conn.sock.close()
    assert len(times) <= 1, "group_id.time must be constant for one daemon run"
    for conn in conns.values():
        check_receives(conn, times)
    return sum(len(conn.receives) for conn in conns.values())


TRACES = [
    "01_connect_membership_on",
    "02_connect_membership_off",
    "03_connect_empty_name_priority",
    "04_name_not_unique",
    "05_illegal_name",
    "06_too_long_name",
    "07_old_version",
    "08_auth_rejected",
    "09_silent_client",
    "10_join_single",
    "11_join_second_member",
    "12_fifo_msg_type",
    "13_agreed",
    "14_all_service_types",
    "15_self_discard",
    "16_private_group",
    "17_multigroup",
    "18_open_group_send",
    "19_leave",
    "20_disconnect",
    "21_abrupt_close",
    "22_malformed_headers",
    "23_large_message",
    "24_unix_socket",
    "25_big_endian_client",
    "26_duplicate_join_bogus_leave",
    "27_membership_off_member",
]


def test_every_trace_is_replayed(golden_traces):
    assert sorted(golden_traces) == TRACES


@pytest.mark.parametrize("trace", TRACES)
def test_golden_trace(trace, golden_traces, spreadbusd):
    checked = replay(golden_traces[trace], spreadbusd)
    recorded = sum(1 for i in golden_traces[trace] if i.kind == "API" and i.api == "SP_receive")
    assert checked == recorded
    # The daemon is empty again: every session of the trace ended.
    assert spreadbusd.call(lambda: spreadbusd.daemon.session_count) == 0
