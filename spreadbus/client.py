"""The pure-Python Spread client: blocking mailboxes with the SpreadModule (``spread``) API.

``connect()`` opens a session with a Spread 4 daemon (the real one or ``spreadbusd``) and
returns a ``Mailbox``; ``Mailbox.receive()`` returns ``RegularMsg`` and ``MembershipMsg``
values; failures raise ``error`` with the Spread code and text. Every byte on the wire is
encoded and decoded by ``spreadbus.wire``; this module only owns the socket, the receive
buffer and the client-library behaviour of section 13 of the protocol description
(connect strings, name truncation, service checks, endian mismatch, membership decoding).

Reading is buffered: one ``recv`` brings in as many messages as the socket holds and
``receive()`` hands them out one by one. That would hide ready messages from a caller that
waits with ``select()`` on ``fileno()``, so calling ``fileno()`` switches the mailbox to
exact reads (never past the end of the current message), as libspread reads. ``poll()``
counts buffered bytes as well as those waiting in the socket.

Threads: one thread may block in ``receive()`` while others send; sends are serialised so
messages never interleave on the wire, and so are receives.

Extensions over SpreadModule: ``connect()`` also accepts the path of a unix socket and the
keyword-only ``timeout`` (bounds the connect and the handshake) and ``byteorder`` (the order
this client writes, normally the host's); ``receive(timeout)``; ``error.code``; mailboxes
are context managers.
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import sys
import termios
import threading
import time
from typing import NamedTuple, TypeAlias

from spreadbus import wire
from spreadbus.wire import (
    CAUSED_BY_DISCONNECT,
    CAUSED_BY_JOIN,
    CAUSED_BY_LEAVE,
    CAUSED_BY_NETWORK,
    CONNECTION_CLOSED,
    COULD_NOT_CONNECT,
    DEFAULT_SPREAD_PORT,
    ENDIAN_RESERVED,
    HEADER_LEN,
    ILLEGAL_GROUP,
    ILLEGAL_MESSAGE,
    ILLEGAL_SERVICE,
    ILLEGAL_SPREAD,
    JOIN_MESS,
    KILL_MESS,
    LEAVE_MESS,
    MAX_GROUP_NAME,
    MAX_MESSAGE_BODY_LEN,
    MEMBERSHIP_MESS,
    MESSAGE_TOO_LONG,
    REG_MEMB_MESS,
    REGULAR_MESS,
    REJECT_AUTH,
    REJECT_MESS,
    REJECT_VERSION,
    SELF_DISCARD,
    TRANSITION_MESS,
    UNIX_SOCKET_DIR,
)

DEFAULT_BUFFER_SIZE = 10000
DEFAULT_GROUPS_SIZE = 10
DEFAULT_DAEMON = f"{DEFAULT_SPREAD_PORT}@localhost"
# libspread's default when the connect string is NULL or "": the unix socket of port 4803.
LIBRARY_DEFAULT_DAEMON = str(DEFAULT_SPREAD_PORT)
# libspread scans connect strings into a 71-byte buffer; longer ones are refused.
MAX_SPREAD_NAME = 70
SOCKET_BUFFER_SIZE = 200 * 1024

_CAUSED_BY_MASK = CAUSED_BY_JOIN | CAUSED_BY_LEAVE | CAUSED_BY_DISCONNECT | CAUSED_BY_NETWORK
_ONE_MEMBER_CAUSES = CAUSED_BY_JOIN | CAUSED_BY_LEAVE | CAUSED_BY_DISCONNECT
# What multicast() lets through, as SpreadModule: any service bits plus SELF_DISCARD. It does
# not insist on exactly one service bit (the daemon drops a session that sends two).
_VALID_SERVICE = REGULAR_MESS | SELF_DISCARD
_AUTH_METHOD = "NULL"
_NAME_ENCODING = "utf-8"
_NAME_ERRORS = "surrogateescape"
_RECV_SIZE = 64 * 1024  # one read of a stream of small messages
_MAX_READ = 1024 * 1024  # one read of a large message
# Bound on what a header may announce, to keep a corrupt stream from exhausting memory:
# the daemon never sends more than one legal message plus its member list.
_MAX_INCOMING_BODY = 2 * MAX_MESSAGE_BODY_LEN
_CACHE_SIZE = 4096  # distinct names and hints remembered per mailbox
_FIONREAD = struct.Struct("i")

BytesLike: TypeAlias = bytes | bytearray | memoryview


class error(Exception):  # noqa: N801 - the name SpreadModule gives it: spread.error
    """A Spread failure: ``args == (code, text)``, or a single text for misuse of a closed mailbox."""

    @property
    def code(self) -> int | None:
        """The Spread error code (e.g. ``REJECT_NOT_UNIQUE``), ``None`` for text-only errors."""
        return self.args[0] if self.args and isinstance(self.args[0], int) else None


def _spread_error(code: int) -> error:
    return error(code, wire.ERROR_TEXTS.get(code, "unrecognized error"))


class GroupId(wire.GroupId):
    """The id of a group view: equal iff ``proc_id``, ``time`` and ``index`` are equal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<group_id {:08X}:{:08X}:{:08X}>".format(*(part & 0xFFFFFFFF for part in self))


_NO_GROUP_ID = GroupId(0, 0, 0)


class RegularMsg(NamedTuple):
    """A data message (read-only)."""

    sender: str  # the sender's private group
    groups: tuple[str, ...]  # every destination group the sender named
    message: bytes
    msg_type: int  # signed 16 bits
    endian: int  # 1 if the sender's byte order differs from this client's


class MembershipMsg(NamedTuple):
    """A membership notice (read-only).

    ``reason`` is the CAUSED_BY bit (0 for a transitional notice); ``members`` the group's
    members now; ``extra`` the receiver's own vs-set (for a join, leave or disconnect: the
    member that changed); ``msg_subtype`` ``REG_MEMB_MESS``, ``TRANSITION_MESS`` or 0 for
    the notice that one has left the group oneself.
    """

    reason: int
    group: str
    group_id: GroupId
    members: tuple[str, ...]
    extra: tuple[str, ...]
    msg_subtype: int
    changed_member: str | None


_new_tuple = tuple.__new__


# --- connect strings ---------------------------------------------------------------------------


def parse_daemon(daemon: str | None) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """Where a connect string points: ``(AF_UNIX, path)`` or ``(AF_INET, (address, port))``.

    The forms of ``SP_connect``: ``""`` means ``"4803"``; ``"<port>"`` is the unix socket
    ``/tmp/<port>``; ``"<port>@<host>"`` is TCP, the host resolved to an IPv4 address.
    Extension: an absolute path is a unix socket. ``None`` is the module's default,
    ``"4803@localhost"``. Anything else raises ``error(ILLEGAL_SPREAD)``, as does a host
    that does not resolve.
    """
    if daemon is None:
        daemon = DEFAULT_DAEMON
    if daemon.startswith("/"):
        return socket.AF_UNIX, daemon
    if daemon == "":
        daemon = LIBRARY_DEFAULT_DAEMON
    if len(daemon.encode(_NAME_ENCODING, _NAME_ERRORS)) > MAX_SPREAD_NAME:
        raise _spread_error(ILLEGAL_SPREAD)
    # sscanf("%hu%s"): blanks, a decimal port, blanks, then one word that must start with "@".
    text = daemon.lstrip()
    digits = len(text) - len(text.lstrip("0123456789"))
    if not digits or int(text[:digits]) > 0xFFFF:
        raise _spread_error(ILLEGAL_SPREAD)
    port = int(text[:digits])
    rest = text[digits:].split()
    if not rest:
        return socket.AF_UNIX, f"{UNIX_SOCKET_DIR}/{port}"
    word = rest[0]
    if not word.startswith("@") or len(word) == 1:
        raise _spread_error(ILLEGAL_SPREAD)
    try:
        address = socket.gethostbyname(word[1:])
    except (OSError, UnicodeError):
        raise _spread_error(ILLEGAL_SPREAD) from None
    return socket.AF_INET, (address, port)


# --- connecting --------------------------------------------------------------------------------


def _text_bytes(value: str | BytesLike) -> bytes:
    """A name as bytes: text is UTF-8 encoded (as SpreadModule does), bytes pass as they are."""
    if isinstance(value, str):
        if "\0" in value:
            raise ValueError("embedded null character")
        return value.encode(_NAME_ENCODING, _NAME_ERRORS)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a name must be str or bytes, not {type(value).__name__}")


def _open_socket(
    family: socket.AddressFamily, address: str | tuple[str, int], timeout: float | None
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            if sock.getsockopt(socket.SOL_SOCKET, option) < SOCKET_BUFFER_SIZE:
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_SIZE)
        sock.settimeout(timeout)
        sock.connect(address)
    except OSError:
        sock.close()
        raise _spread_error(COULD_NOT_CONNECT) from None
    return sock


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    """``count`` bytes of the handshake; ``CONNECTION_CLOSED`` if the stream ends first."""
    chunks = []
    while count:
        try:
            chunk = sock.recv(count)
        except OSError:
            chunk = b""
        if not chunk:
            raise _spread_error(CONNECTION_CLOSED)
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _handshake(sock: socket.socket, name: bytes, priority: int, membership: bool) -> str:
    """Run the connect exchange of section 3 on a connected socket; return the private group."""
    try:
        sock.sendall(wire.encode_connect(name, membership, priority))
    except OSError:
        raise _spread_error(CONNECTION_CLOSED) from None
    try:
        head = _recv_exact(sock, 1)
        wire.decode_auth_list(head)  # raises on a reject byte
        if head[0] > wire.AUTH_CHOICE_LEN:
            raise _spread_error(CONNECTION_CLOSED)
        listed = head + _recv_exact(sock, head[0])
        methods, _ = wire.decode_auth_list(listed)
        if _AUTH_METHOD not in methods:
            raise _spread_error(REJECT_AUTH)
        try:
            sock.sendall(wire.encode_auth_choice((_AUTH_METHOD,)))
        except OSError:
            raise _spread_error(CONNECTION_CLOSED) from None
        answer = _recv_exact(sock, 1)
        wire.decode_accept(answer)  # raises unless ACCEPT_SESSION
        answer += _recv_exact(sock, 4)
        major, minor, patch = answer[1], answer[2], answer[3]
        release = major * 10000 + minor * 100 + patch
        if release < 30100 or (release < 30800 and priority > 0):
            raise _spread_error(REJECT_VERSION)
        answer += _recv_exact(sock, answer[4])
        accept, _ = wire.decode_accept(answer)
    except wire.HandshakeError as exc:
        code = exc.code if exc.code is not None else CONNECTION_CLOSED
        raise _spread_error(code) from None
    return accept.private_group.decode(_NAME_ENCODING, _NAME_ERRORS)


def connect(
    daemon: str | None = None,
    name: str = "",
    priority: int = 0,
    membership: int = 1,
    *,
    timeout: float | None = None,
    byteorder: str | None = None,
) -> Mailbox:
    """Open a session with a Spread daemon; raise ``error`` if it cannot be opened.

    ``daemon``: a connect string (see ``parse_daemon``; default ``"4803@localhost"``).
    ``name``: the private name, cut to 10 bytes as libspread does; ``""`` lets the daemon
    choose one. ``priority`` is clamped to 0..1 and otherwise unused. ``membership``: whether
    this session receives membership notices. ``timeout`` (seconds) bounds the connect and
    the handshake. ``byteorder`` (``"little"`` or ``"big"``) is the order this client writes
    its headers in; the host's by default.
    """
    order = byteorder or sys.byteorder
    if order not in (wire.LITTLE, wire.BIG):
        raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
    family, address = parse_daemon(daemon)
    private_name = _text_bytes(name)
    priority = min(max(int(priority), 0), 1)
    sock = _open_socket(family, address, timeout)
    try:
        private_group = _handshake(sock, private_name, priority, bool(membership))
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return Mailbox(sock, private_group, order)


def version() -> tuple[int, int, int]:
    """The Spread version this module implements."""
    return wire.VERSION


# --- the mailbox -------------------------------------------------------------------------------


def _readable(sock: socket.socket, deadline: float) -> bool:
    """Wait until ``sock`` has something to read (or is closed) or ``deadline`` passes."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    remaining = max(deadline - time.monotonic(), 0.0)
    return bool(poller.poll(remaining * 1000))


class _StreamBroken(Exception):
    """The daemon closed the connection, or reading from it failed."""


class Mailbox:
    """One session with the daemon (what libspread calls a mailbox)."""

    def __init__(self, sock: socket.socket, private_group: str, byteorder: str = sys.byteorder) -> None:
        self._sock = sock
        self._closed = False
        self.private_group = private_group
        self._byteorder = byteorder
        self._sender = wire.encode_name(private_group.encode(_NAME_ENCODING, _NAME_ERRORS))
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self._buf = b""  # received, not yet handed out; messages start at _pos
        self._pos = 0
        self._missing = HEADER_LEN  # bytes the next message still lacks, at least
        self._exact = False  # read no further than the current message (after fileno())
        self._failure: error | None = None  # a stream that cannot be parsed stays failed
        self._names: dict[bytes, str] = {}  # 32-byte name field -> name
        self._hints: dict[bytes, tuple[int, int]] = {}  # hint -> (msg_type, endian mismatch)
        self._fields: dict[str | bytes, bytes] = {}  # group name -> 32-byte field

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd {self._sock.fileno()}"
        return f"<Mailbox {self.private_group} {state}>"

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        try:
            self.disconnect()
        except Exception:  # noqa: S110 - nothing can be reported from a finaliser
            pass

    # --- closing -----------------------------------------------------------------------------

    def _closed_error(self, method: str) -> error:
        return error(f"{method}() called on closed mbox")

    def _shut(self) -> None:
        """Close the socket; a thread blocked in ``receive()`` wakes up and sees it closed."""
        self._closed = True
        sock = self._sock
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _lost(self) -> error:
        """The connection is gone: close the mailbox, as SpreadModule does on CONNECTION_CLOSED."""
        self._shut()
        return _spread_error(CONNECTION_CLOSED)

    def disconnect(self) -> None:
        """Send KILL and close the socket without waiting; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        kill = wire.pack_header(
            KILL_MESS, self._sender, 1, wire.encode_hint(0, self._byteorder), 0, self._byteorder
        )
        # Never wait here: if a writer holds the send lock or the socket is full, the close
        # alone tells the daemon, which treats an end of stream (even inside a message) as a KILL.
        if self._send_lock.acquire(blocking=False):
            try:
                self._sock.send(kill + self._sender, socket.MSG_DONTWAIT)
            except OSError:
                pass
            finally:
                self._send_lock.release()
        self._shut()

    # --- small calls -------------------------------------------------------------------------

    def fileno(self) -> int:
        """The socket's descriptor, for ``select``; from now on reads stop at message ends."""
        if self._closed:
            raise self._closed_error("fileno")
        self._exact = True
        return self._sock.fileno()

    def poll(self) -> int:
        """Bytes waiting: those received but not yet handed out plus those in the socket."""
        if self._closed:
            raise self._closed_error("poll")
        try:
            raw = fcntl.ioctl(self._sock.fileno(), termios.FIONREAD, bytes(_FIONREAD.size))
        except OSError:
            raise self._lost() from None
        return len(self._buf) - self._pos + _FIONREAD.unpack(raw)[0]

    def join(self, group: str) -> None:
        """Join ``group``; the membership notice arrives later through ``receive()``."""
        self._command(JOIN_MESS, group, "join")

    def leave(self, group: str) -> None:
        """Leave ``group``; the notice (for this session: the self-leave) arrives later."""
        self._command(LEAVE_MESS, group, "leave")

    def _command(self, kind: int, group: str, method: str) -> None:
        if self._closed:
            raise self._closed_error(method)
        raw = _text_bytes(group)
        if not wire.is_legal_name(raw, MAX_GROUP_NAME - 1):
            raise _spread_error(ILLEGAL_GROUP)
        self._send(kind, wire.encode_name(raw), 1, b"", 0)

    # --- sending -----------------------------------------------------------------------------

    def multicast(self, service_type: int, group: str, message: str | BytesLike, msg_type: int = 0) -> int:
        """Send ``message`` to ``group`` (a group or a private group); return the data length."""
        if self._closed:
            raise self._closed_error("multicast")
        if service_type & _VALID_SERVICE != service_type:
            raise ValueError("invalid service type")
        field = self._fields.get(group)
        if field is None:
            # SP_multicast copies at most 31 bytes of the name.
            field = self._remember_field(group, _text_bytes(group)[: MAX_GROUP_NAME - 1])
        return self._multicast(service_type, field, 1, message, msg_type)

    def multigroup_multicast(
        self, service_type: int, groups: tuple[str, ...], message: str | BytesLike, msg_type: int = 0
    ) -> int:
        """Send one message to several groups: each target session gets one copy naming them all."""
        if not isinstance(groups, tuple):
            raise TypeError("only tuples are allowed for groups")
        if not groups:
            raise ValueError("there must be at least one group in the tuple")
        fields = []
        for group in groups:
            if not isinstance(group, str):
                raise TypeError("groups must be strings only")
            # SpreadModule copies up to 32 bytes: a 32-byte name goes out without its NUL.
            fields.append(wire.encode_name(_text_bytes(group)[:MAX_GROUP_NAME]))
        if self._closed:
            raise self._closed_error("multigroup_multicast")
        if service_type & _VALID_SERVICE != service_type:
            raise ValueError("invalid service type")
        return self._multicast(service_type, b"".join(fields), len(fields), message, msg_type)

    def _remember_field(self, group: str | bytes, raw: bytes) -> bytes:
        fields = self._fields
        if len(fields) >= _CACHE_SIZE:
            fields.clear()
        field = fields[group] = wire.encode_name(raw)
        return field

    def _multicast(
        self, service_type: int, fields: bytes, num_groups: int, message: str | BytesLike, msg_type: int
    ) -> int:
        if not service_type & REGULAR_MESS:
            raise _spread_error(ILLEGAL_SERVICE)
        data = message.encode(_NAME_ENCODING) if isinstance(message, str) else message
        size = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        if size + MAX_GROUP_NAME * num_groups > MAX_MESSAGE_BODY_LEN:
            raise _spread_error(MESSAGE_TOO_LONG)
        self._send(service_type, fields, num_groups, data, msg_type, size)
        return size

    def _send(
        self, kind: int, fields: bytes, num_groups: int, data: BytesLike, msg_type: int, size: int = 0
    ) -> None:
        order = self._byteorder
        head = wire.pack_header(
            kind, self._sender, num_groups, wire.encode_hint(msg_type, order), size, order
        )
        with self._send_lock:
            if self._closed:
                raise _spread_error(CONNECTION_CLOSED)
            try:
                if size <= _RECV_SIZE:
                    self._sock.sendall(head + fields + data if size else head + fields)
                else:  # no copy of a large body
                    self._sock.sendall(head + fields)
                    self._sock.sendall(data)
            except OSError:
                raise self._lost() from None

    # --- receiving ---------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> RegularMsg | MembershipMsg:
        """Block until the next message; a data message or a membership notice.

        ``timeout`` (an extension, seconds): raise ``TimeoutError`` if no complete message
        arrives in time; the mailbox stays usable and keeps what arrived.
        """
        if self._closed:
            raise self._closed_error("receive")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._recv_lock:
            while True:
                if self._failure is not None:
                    raise self._failure
                message = self._next_message()
                if message is not None:
                    return message
                try:
                    self._fill(deadline)
                except _StreamBroken:
                    raise self._lost() from None

    def _fill(self, deadline: float | None) -> None:
        """Read until the buffer holds at least the ``_missing`` bytes of the next message."""
        sock = self._sock
        missing = self._missing
        exact = self._exact
        chunks = []
        timed_out = False
        try:
            while missing > 0:
                if deadline is not None and not _readable(sock, deadline):
                    timed_out = True
                    break
                want = missing if exact else max(missing, _RECV_SIZE)
                chunk = sock.recv(min(want, _MAX_READ))
                if not chunk:
                    raise _StreamBroken
                chunks.append(chunk)
                missing -= len(chunk)
        except OSError:
            raise _StreamBroken from None
        finally:
            if chunks:
                buf, pos = self._buf, self._pos
                if pos < len(buf):
                    chunks.insert(0, buf[pos:] if pos else buf)
                self._buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._pos = 0
        if timed_out:
            raise TimeoutError("no complete message within the timeout")

    def _name(self, field: bytes) -> str:
        """The name in a 32-byte name field (decoded once per distinct field)."""
        names = self._names
        name = names.get(field)
        if name is None:
            if len(names) >= _CACHE_SIZE:
                names.clear()
            name = names[field] = wire.decode_name(field).decode(_NAME_ENCODING, _NAME_ERRORS)
        return name

    def _hint(self, hint: bytes) -> tuple[int, int]:
        """``(msg_type, endian mismatch)`` of a hint (decoded once per distinct hint)."""
        decoded = self._hints.get(hint)
        if decoded is None:
            if len(self._hints) >= _CACHE_SIZE:
                self._hints.clear()
            msg_type, order = wire.decode_hint(hint)
            decoded = self._hints[hint] = (msg_type, int(order != self._byteorder))
        return decoded

    def _next_message(self) -> RegularMsg | MembershipMsg | None:
        """The next complete message in the buffer, or ``None`` (``_missing`` says what lacks)."""
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available < HEADER_LEN:
            self._missing = HEADER_LEN - available
            return None
        try:
            kind, sender, num_groups, hint, data_len, byteorder = wire.unpack_header(buf, pos)
        except wire.InvalidHeader as exc:
            raise self._fail(str(exc)) from None
        if num_groups < 0 or data_len < 0 or data_len + MAX_GROUP_NAME * num_groups > _MAX_INCOMING_BODY:
            raise self._fail(f"header announces {num_groups} groups and {data_len} data bytes")
        groups_at = pos + HEADER_LEN
        if kind & REJECT_MESS:
            groups_at += 4  # the denied message's type
        data_at = groups_at + MAX_GROUP_NAME * num_groups
        end = data_at + data_len
        if end > len(buf):
            self._missing = end - len(buf)
            return None
        self._pos = end
        name = self._name
        if num_groups == 1:
            groups: tuple[str, ...] = (name(buf[groups_at:data_at]),)
        else:
            groups = tuple(
                [name(buf[at : at + MAX_GROUP_NAME]) for at in range(groups_at, data_at, MAX_GROUP_NAME)]
            )
        if kind & REJECT_MESS:
            # As libspread reports it: the denied message's type plus REJECT_MESS.
            old_type = int.from_bytes(buf[pos + HEADER_LEN : groups_at], byteorder)
            raise error(f"Unknown message type: {old_type & ~ENDIAN_RESERVED | REJECT_MESS}")
        if kind & REGULAR_MESS:
            msg_type, endian = self._hint(hint)
            return _new_tuple(RegularMsg, (name(sender), groups, buf[data_at:end], msg_type, endian))
        if kind & MEMBERSHIP_MESS:
            return self._membership(kind, name(sender), groups, buf[data_at:end], byteorder)
        raise error(f"Unknown message type: {kind}")

    def _membership(
        self, kind: int, group: str, members: tuple[str, ...], body: bytes, byteorder: str
    ) -> MembershipMsg:
        group_id = _NO_GROUP_ID
        extra: tuple[str, ...] = ()
        changed = None
        # A self-leave notice has no body; a transitional one only the group id.
        if kind & (REG_MEMB_MESS | TRANSITION_MESS):
            try:
                info = wire.decode_membership(body, byteorder)
            except wire.InvalidFrame as exc:
                raise _spread_error(ILLEGAL_MESSAGE) from exc
            group_id = GroupId(*info.group_id)
            if kind & REG_MEMB_MESS:
                decode = self._decode_name_bytes
                if info.my_vs_set >= 0:
                    extra = tuple(decode(member) for member in info.vs_sets[info.my_vs_set])
                if kind & _ONE_MEMBER_CAUSES and info.changed_member is not None:
                    changed = decode(info.changed_member)
        subtype = kind & (TRANSITION_MESS | REG_MEMB_MESS)
        return MembershipMsg(kind & _CAUSED_BY_MASK, group, group_id, members, extra, subtype, changed)

    @staticmethod
    def _decode_name_bytes(name: bytes) -> str:
        return name.decode(_NAME_ENCODING, _NAME_ERRORS)

    def _fail(self, reason: str) -> error:
        """The stream cannot be parsed any further: every later ``receive()`` fails alike."""
        failure = _spread_error(ILLEGAL_MESSAGE)
        failure.add_note(reason)
        self._failure = failure
        return failure


MailboxType = Mailbox
RegularMsgType = RegularMsg
MembershipMsgType = MembershipMsg
