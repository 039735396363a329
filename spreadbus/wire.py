"""Sans-IO codec of the Spread 4 client <-> daemon wire protocol.

Everything here is pure: bytes in, values or bytes out. No sockets, clocks or loggers.
Both the daemon (``spreadbus.daemon``) and the pure-Python client use it.

Constants
    Limits (``MAX_PRIVATE_NAME``, ``MAX_GROUP_NAME``, ``HEADER_LEN``, ...), the version,
    the handshake codes (``ACCEPT_SESSION``, ``REJECT_*``), library error codes
    (``ILLEGAL_SPREAD`` ... ``SP_BUG``) with ``ERROR_TEXTS``, and every type bit
    (``FIFO_MESS``, ``SELF_DISCARD``, ``JOIN_MESS``, ``CAUSED_BY_JOIN``, ``REG_MEMB_MESS``,
    ``REJECT_MESS``, ``DROP_RECV``, ``ENDIAN_RESERVED``, ...). Byte orders are the strings
    ``LITTLE`` and ``BIG``.

Names
    ``encode_name(name) -> 32 bytes``, ``decode_name(field) -> bytes`` (cut at the first NUL),
    ``is_legal_name(name)``, ``private_group(name, daemon)``, ``split_private_group(group)``.

Handshake (section 3 of the protocol)
    ``encode_connect`` / ``decode_connect`` (-> ``ConnectMessage``), ``encode_auth_list`` /
    ``decode_auth_list``, ``encode_auth_choice`` / ``decode_auth_choice``, ``encode_accept`` /
    ``decode_accept`` (-> ``Accept``), ``encode_reject_byte``. Decoders take the bytes
    received so far and return ``None`` while incomplete, else ``(value, consumed)``; the
    daemon-side ones model Spread, which decides on a single read of what has arrived.

Messages (sections 5 and 7)
    ``Header`` (named tuple), ``unpack_header``, ``pack_header``, ``encode_hint``,
    ``decode_hint``, ``hint_is_valid``, ``encode_message``, ``encode_reject_message``,
    ``Frame`` (one complete message: header, groups, data, raw bytes), ``MessageParser``
    (``feed(bytes)``, ``next_frame()``, ``frames()``): an incremental, O(n) parser that can
    check each header before its body arrives.

Membership (section 7.3/7.4)
    ``GroupId``, ``encode_membership``, ``encode_membership_body``, ``encode_self_leave``,
    ``encode_transitional``, ``decode_membership`` (-> ``MembershipBody``), ``is_regular``, ``is_membership``,
    ``is_self_leave``.

Errors
    ``SpreadWireError`` (base), ``HandshakeError`` (with the wire ``code`` to answer, or
    ``None`` for a silent close; also raised by client-side decoders when the daemon sent a
    reject byte), ``InvalidHeader``, ``InvalidFrame`` (a structurally broken message body).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

# --- limits and versions (protocol section 1) -------------------------------------------------

DEFAULT_SPREAD_PORT = 4803
SP_MAJOR_VERSION = 4
SP_MINOR_VERSION = 4
SP_PATCH_VERSION = 0
SPREAD_VERSION = (SP_MAJOR_VERSION << 24) | (SP_MINOR_VERSION << 16) | SP_PATCH_VERSION
VERSION = (SP_MAJOR_VERSION, SP_MINOR_VERSION, SP_PATCH_VERSION)

MAX_PRIVATE_NAME = 10
MAX_PROC_NAME = 20
MAX_GROUP_NAME = 32
MAX_AUTH_NAME = 30
MAX_AUTH_METHODS = 3
AUTH_CHOICE_LEN = MAX_AUTH_NAME * MAX_AUTH_METHODS
HEADER_LEN = 48
MAX_GROUPS_PER_MESSAGE = 100
MAX_MESSAGE_BODY_LEN = 10000 * (1472 - 32)
MAX_SESSIONS = (2000 - 5) // 2
DEFAULT_MAX_SESSION_MESSAGES = 1000
MAX_LOCAL_GROUP_MEMBERS = (100000 - 9 - 48 - 14) // 32
MAX_CLIENT_SCATTER_ELEMENTS = 100
ACCEPT_TIMEOUT = 1.0
UNIX_SOCKET_DIR = "/tmp"

LOW_PRIORITY = 0
MEDIUM_PRIORITY = 1
HIGH_PRIORITY = 2

# Version thresholds, as major*10000 + minor*100 + patch.
_OLDEST_CLIENT = 30100  # below: REJECT_VERSION
_PATCH_BYTE_FROM = 31500  # from 3.15 on the patch byte is sent (and answered)
_AUTH_FROM = 31600  # from 3.16 on the auth exchange takes place

# --- return and error codes (section 4) -------------------------------------------------------

ACCEPT_SESSION = 1
ILLEGAL_SPREAD = -1
COULD_NOT_CONNECT = -2
REJECT_QUOTA = -3
REJECT_NO_NAME = -4
REJECT_ILLEGAL_NAME = -5
REJECT_NOT_UNIQUE = -6
REJECT_VERSION = -7
CONNECTION_CLOSED = -8
REJECT_AUTH = -9
ILLEGAL_SESSION = -11
ILLEGAL_SERVICE = -12
ILLEGAL_MESSAGE = -13
ILLEGAL_GROUP = -14
BUFFER_TOO_SHORT = -15
GROUPS_TOO_SHORT = -16
MESSAGE_TOO_LONG = -17
NET_ERROR_ON_SESSION = -18
SP_BUG = -19

ERROR_TEXTS = {
    ILLEGAL_SPREAD: "Illegal spread was provided",
    COULD_NOT_CONNECT: "Could not connect. Is Spread running?",
    REJECT_QUOTA: "Connection rejected, too many users",
    REJECT_NO_NAME: "Connection rejected, no name was supplied",
    REJECT_ILLEGAL_NAME: "Connection rejected, illegal name",
    REJECT_NOT_UNIQUE: "Connection rejected, name not unique",
    REJECT_VERSION: "Connection rejected, library does not fit daemon",
    CONNECTION_CLOSED: "Connection closed by spread",
    REJECT_AUTH: "Connection rejected, authentication failed",
    ILLEGAL_SESSION: "Illegal session was supplied",
    ILLEGAL_SERVICE: "Illegal service request",
    ILLEGAL_MESSAGE: "Illegal message",
    ILLEGAL_GROUP: "Illegal group",
    BUFFER_TOO_SHORT: "The supplied buffer was too short",
    GROUPS_TOO_SHORT: "The supplied groups list was too short",
    MESSAGE_TOO_LONG: "The message body + group names was too large to fit in a message",
}

# --- type bits (sections 5.3 and 7.2) ---------------------------------------------------------

UNRELIABLE_MESS = 0x00000001
RELIABLE_MESS = 0x00000002
FIFO_MESS = 0x00000004
CAUSAL_MESS = 0x00000008
AGREED_MESS = 0x00000010
SAFE_MESS = 0x00000020
REGULAR_MESS = 0x0000003F
SELF_DISCARD = 0x00000040
DROP_RECV = 0x01000000

CAUSED_BY_JOIN = 0x00000100
CAUSED_BY_LEAVE = 0x00000200
CAUSED_BY_DISCONNECT = 0x00000400
CAUSED_BY_NETWORK = 0x00000800
REG_MEMB_MESS = 0x00001000
TRANSITION_MESS = 0x00002000
MEMBERSHIP_MESS = 0x00003F00

RESERVED = 0x003FC000
REJECT_MESS = 0x00400000

JOIN_MESS = 0x00010000
LEAVE_MESS = 0x00020000
KILL_MESS = 0x00040000
COMMAND_MESS = JOIN_MESS | LEAVE_MESS | KILL_MESS

ENDIAN_RESERVED = 0x80000080
HINT_MSG_TYPE_MASK = 0x00FFFF00

SERVICE_NAMES = {
    UNRELIABLE_MESS: "UNRELIABLE_MESS",
    RELIABLE_MESS: "RELIABLE_MESS",
    FIFO_MESS: "FIFO_MESS",
    CAUSAL_MESS: "CAUSAL_MESS",
    AGREED_MESS: "AGREED_MESS",
    SAFE_MESS: "SAFE_MESS",
    JOIN_MESS: "JOIN_MESS",
    LEAVE_MESS: "LEAVE_MESS",
    KILL_MESS: "KILL_MESS",
}

LITTLE = "little"
BIG = "big"

# --- errors -----------------------------------------------------------------------------------


class SpreadWireError(Exception):
    """Base class of every error raised by this codec on bad input."""


class HandshakeError(SpreadWireError):
    """The handshake cannot go on.

    ``code`` is the Spread code that goes (or came) over the wire as one signed byte, e.g.
    ``REJECT_ILLEGAL_NAME``; ``None`` means the connection is closed without a reject byte.
    ``consumed`` (daemon side) is how many of the input bytes the daemon has read when it
    decides; what follows stays unread.
    """

    def __init__(self, code: int | None, reason: str, consumed: int = 0) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.consumed = consumed


class InvalidHeader(SpreadWireError):
    """A 48-byte message header breaks the protocol (the connection must be dropped)."""


class InvalidFrame(SpreadWireError):
    """The body of a message is structurally broken (e.g. a truncated membership body)."""


# --- names ------------------------------------------------------------------------------------

_ZERO_NAME = bytes(MAX_GROUP_NAME)


def _as_bytes(name: str | bytes) -> bytes:
    return name.encode("latin-1") if isinstance(name, str) else bytes(name)


def encode_name(name: str | bytes) -> bytes:
    """A 32-byte name field: at most 31 bytes of ``name``, NUL padded.

    A ``bytes`` value of exactly 32 bytes is taken verbatim (library callers may pass whole
    fields, and the daemon forwards fields as sent).
    """
    raw = _as_bytes(name)
    if len(raw) == MAX_GROUP_NAME and isinstance(name, bytes | bytearray | memoryview):
        return raw
    raw = raw[: MAX_GROUP_NAME - 1]
    return raw + _ZERO_NAME[len(raw) :]


def decode_name(field: bytes) -> bytes:
    """The name in a name field: the bytes before the first NUL (at most 32)."""
    end = field.find(b"\0", 0, MAX_GROUP_NAME)
    return bytes(field[:end]) if end >= 0 else bytes(field[:MAX_GROUP_NAME])


def is_legal_name(name: bytes, max_len: int = MAX_GROUP_NAME - 1) -> bool:
    """1..max_len characters, each in 0x24 ('$') .. 0x7e ('~')."""
    if not 1 <= len(name) <= max_len:
        return False
    return all(0x24 <= c <= 0x7E for c in name)


def private_group(name: str | bytes, daemon: str | bytes) -> bytes:
    """``#<name>#<daemon>``."""
    return b"#" + _as_bytes(name) + b"#" + _as_bytes(daemon)


def split_private_group(group: bytes) -> tuple[bytes, bytes] | None:
    """``(name, daemon)`` of a well-formed private group name, else ``None``.

    Well-formed: ``#p#d`` with 1 <= |p| <= 10, 1 <= |d| <= 19 and every character legal.
    """
    if not group.startswith(b"#"):
        return None
    name, sep, daemon = group[1:].partition(b"#")
    if not sep:
        return None
    if not is_legal_name(name, MAX_PRIVATE_NAME) or not is_legal_name(daemon, MAX_PROC_NAME - 1):
        return None
    return name, daemon


# --- handshake --------------------------------------------------------------------------------


def _version_number(major: int, minor: int, patch: int) -> int:
    return major * 10000 + minor * 100 + patch


class ConnectMessage(NamedTuple):
    version: tuple[int, int, int]  # as Spread reads the bytes: signed
    membership: bool
    priority: int
    name: bytes

    @property
    def wants_patch_byte(self) -> bool:
        """Whether the accept carries the patch byte (client >= 3.15)."""
        return _version_number(*self.version) >= _PATCH_BYTE_FROM

    @property
    def wants_auth(self) -> bool:
        """Whether the auth exchange takes place (client >= 3.16.0)."""
        return _version_number(*self.version) >= _AUTH_FROM


def encode_connect(
    name: str | bytes = b"",
    membership: bool = True,
    priority: int = 0,
    version: tuple[int, int, int] = VERSION,
) -> bytes:
    """The client's connect message. The name is cut to 10 bytes as libspread does."""
    raw = _as_bytes(name)[:MAX_PRIVATE_NAME]
    major, minor, patch = version
    flags = (1 if membership else 0) | ((min(max(priority, 0), 1) << 4) & 0xF0)
    head = bytes([major, minor])
    if _version_number(major, minor, 0) >= _PATCH_BYTE_FROM:
        head += bytes([patch])
    return head + bytes([flags, len(raw)]) + raw


def _signed_byte(value: int) -> int:
    return value - 256 if value > 127 else value


def decode_connect(buf: bytes | bytearray) -> tuple[ConnectMessage, int] | None:
    """Daemon side: the connect message in ``buf``, which holds every byte that had arrived
    when the daemon first read the new connection.

    Spread reads that once, without waiting for more, field by field (2 version bytes, the
    patch byte if the version is above 3.14, flags and name length, then one receive of up
    to 10 name bytes), and decides on what it got; so does this function. All bytes are
    read as the signed chars they are in Spread. Returns ``None`` if a field is missing (the
    daemon then closes without a word), else ``(message, bytes consumed)``. Raises
    ``HandshakeError`` with the reject code the real daemon sends, in its order of checks:
    version (decided as soon as the version bytes are in), name length, name length
    mismatch (fewer name bytes than declared, or further bytes caught by the 10-byte name
    read, e.g. a pipelined auth choice), name characters. An empty name reads no name
    bytes: whatever follows stays for the auth stage.
    """
    if len(buf) < 2:
        return None
    major, minor = _signed_byte(buf[0]), _signed_byte(buf[1])
    pos = 2
    patch = 0
    if _version_number(major, minor, 0) > 31400:
        if len(buf) < 3:
            return None
        patch = _signed_byte(buf[2])
        pos = 3
    if _version_number(major, minor, patch) < _OLDEST_CLIENT:
        raise HandshakeError(REJECT_VERSION, f"client version {major}.{minor}.{patch} older than 3.1.0", pos)
    if len(buf) < pos + 2:
        return None
    flags = _signed_byte(buf[pos])
    length = _signed_byte(buf[pos + 1])
    pos += 2
    if length < 0 or length > MAX_PRIVATE_NAME:
        raise HandshakeError(
            REJECT_ILLEGAL_NAME, f"private name length {length} out of 0..{MAX_PRIVATE_NAME}", pos
        )
    name_read = bytes(buf[pos : pos + MAX_PRIVATE_NAME]) if length else b""
    if length and not name_read:
        return None
    consumed = pos + len(name_read)
    if len(name_read) != length:
        raise HandshakeError(
            REJECT_ILLEGAL_NAME,
            f"private name length {length} but {len(name_read)} bytes arrived",
            consumed,
        )
    if length and not is_legal_name(name_read, MAX_PRIVATE_NAME):
        raise HandshakeError(
            REJECT_ILLEGAL_NAME, f"illegal character in private name {name_read!r}", consumed
        )
    # C division and remainder of a signed char: a negative flags byte asks for nothing.
    membership = flags > 0 and flags % 2 == 1
    priority = int(flags / 16)
    return ConnectMessage((major, minor, patch), membership, priority, name_read), consumed


def encode_auth_list(methods: Iterable[str] = ("NULL",)) -> bytes:
    """Daemon side: the allowed method list, each name followed by one space."""
    text = "".join(f"{m} " for m in methods).encode("ascii")
    if len(text) > 255:
        raise ValueError("auth method list longer than 255 bytes")
    return bytes([len(text)]) + text


def decode_auth_list(buf: bytes | bytearray) -> tuple[list[str], int] | None:
    """Client side: the auth method list; ``HandshakeError`` if a reject byte came instead."""
    if not buf:
        return None
    length = buf[0]
    if length >= 128:
        code = length - 256
        raise HandshakeError(code, ERROR_TEXTS.get(code, f"connection rejected ({code})"))
    if len(buf) < 1 + length:
        return None
    text = bytes(buf[1 : 1 + length]).decode("latin-1")
    return text.split(), 1 + length


def encode_auth_choice(methods: Sequence[str] = ("NULL",)) -> bytes:
    """Client side: the 90-byte auth choice (three NUL-padded 30-byte slots)."""
    if len(methods) > MAX_AUTH_METHODS:
        raise ValueError(f"at most {MAX_AUTH_METHODS} auth methods")
    out = bytearray(AUTH_CHOICE_LEN)
    for i, method in enumerate(methods):
        raw = method.encode("ascii")[: MAX_AUTH_NAME - 1]
        out[i * MAX_AUTH_NAME : i * MAX_AUTH_NAME + len(raw)] = raw
    return bytes(out)


def decode_auth_choice(buf: bytes | bytearray) -> tuple[list[str], int] | None:
    """Daemon side: the chosen methods, walking slots while a slot's first byte is non-zero.

    ``None`` if fewer than 90 bytes are there: Spread reads the choice once and refuses a
    short one (``REJECT_AUTH``).
    """
    if len(buf) < AUTH_CHOICE_LEN:
        return None
    methods = []
    for i in range(MAX_AUTH_METHODS):
        slot = bytes(buf[i * MAX_AUTH_NAME : (i + 1) * MAX_AUTH_NAME])
        if slot[0] == 0:
            break
        end = slot.find(b"\0")
        methods.append(slot[: end if end >= 0 else MAX_AUTH_NAME].decode("latin-1"))
    return methods, AUTH_CHOICE_LEN


class Accept(NamedTuple):
    version: tuple[int, int, int]
    private_group: bytes


def encode_accept(
    private_group_name: bytes, with_patch_byte: bool = True, version: tuple[int, int, int] = VERSION
) -> bytes:
    """Daemon side: ACCEPT_SESSION, the daemon version, the private group name."""
    head = bytes([ACCEPT_SESSION, version[0], version[1]])
    if with_patch_byte:
        head += bytes([version[2]])
    return head + bytes([len(private_group_name)]) + private_group_name


def decode_accept(buf: bytes | bytearray, with_patch_byte: bool = True) -> tuple[Accept, int] | None:
    """Client side: the accept; ``HandshakeError`` if any code other than 1 came."""
    if not buf:
        return None
    if buf[0] != ACCEPT_SESSION:
        code = buf[0] - 256 if buf[0] >= 128 else buf[0]
        raise HandshakeError(code, ERROR_TEXTS.get(code, f"connection rejected ({code})"))
    pos = 4 if with_patch_byte else 3
    if len(buf) < pos + 1:
        return None
    version = (buf[1], buf[2], buf[3] if with_patch_byte else 0)
    length = buf[pos]
    if len(buf) < pos + 1 + length:
        return None
    return Accept(version, bytes(buf[pos + 1 : pos + 1 + length])), pos + 1 + length


def encode_reject_byte(code: int) -> bytes:
    """A handshake reject: the negative code as one signed byte."""
    return bytes([code & 0xFF])


# --- message header ---------------------------------------------------------------------------

_HEADER = {LITTLE: struct.Struct("<I32si4si"), BIG: struct.Struct(">I32si4si")}
_U32 = {LITTLE: struct.Struct("<I"), BIG: struct.Struct(">I")}
_HEADER_LE = _HEADER[LITTLE]


class Header(NamedTuple):
    """A decoded 48-byte header.

    ``type`` has the endian bits cleared; ``sender`` is the raw 32-byte name field;
    ``hint`` the raw 4 hint bytes (kept in the writer's byte order, as Spread relays them);
    ``byteorder`` the order the writer used, told by the endian bits of ``type``.
    """

    type: int
    sender: bytes
    num_groups: int
    hint: bytes
    data_len: int
    byteorder: str

    @property
    def sender_name(self) -> bytes:
        return decode_name(self.sender)

    @property
    def msg_type(self) -> int:
        return decode_hint(self.hint)[0]


def unpack_header(buf: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Decode the header at ``offset`` (48 bytes must be there)."""
    type_le, sender, num_groups, hint, data_len = _HEADER_LE.unpack_from(buf, offset)
    endian = type_le & ENDIAN_RESERVED
    if endian == ENDIAN_RESERVED:
        return Header(type_le & ~ENDIAN_RESERVED, sender, num_groups, hint, data_len, LITTLE)
    if endian:
        raise InvalidHeader(f"inconsistent endian bits in type 0x{type_le:08x}")
    type_be, sender, num_groups, hint, data_len = _HEADER[BIG].unpack_from(buf, offset)
    return Header(type_be, sender, num_groups, hint, data_len, BIG)


def pack_header(
    msg_type_bits: int,
    sender: str | bytes,
    num_groups: int,
    hint: bytes,
    data_len: int,
    byteorder: str = LITTLE,
) -> bytes:
    """Encode a header. The endian bits of ``type`` follow ``byteorder`` (set = little)."""
    bits = msg_type_bits & ~ENDIAN_RESERVED
    if byteorder == LITTLE:
        bits |= ENDIAN_RESERVED
    return _HEADER[byteorder].pack(bits, encode_name(sender), num_groups, hint, data_len)


def encode_hint(msg_type: int, byteorder: str = LITTLE) -> bytes:
    """The hint of a message with the 16-bit ``msg_type``, in ``byteorder``."""
    value = (msg_type << 8) & HINT_MSG_TYPE_MASK
    if byteorder == LITTLE:
        value |= ENDIAN_RESERVED
    return _U32[byteorder].pack(value)


def decode_hint(hint: bytes) -> tuple[int, str]:
    """``(msg_type, byteorder of the writer)`` from the 4 raw hint bytes."""
    value = int.from_bytes(hint, "little")
    order = LITTLE
    if value & ENDIAN_RESERVED != ENDIAN_RESERVED:
        value = int.from_bytes(hint, "big")
        order = BIG
    msg_type = (value >> 8) & 0xFFFF
    if msg_type >= 0x8000:
        msg_type -= 0x10000
    return msg_type, order


def hint_is_valid(hint: bytes) -> bool:
    """Only endian and msg_type bits set (a byte-order independent test)."""
    return int.from_bytes(hint, "little") & ~(ENDIAN_RESERVED | HINT_MSG_TYPE_MASK) & 0xFFFFFFFF == 0


def encode_message(
    service_type: int,
    sender: str | bytes,
    groups: Sequence[str | bytes],
    data: bytes = b"",
    msg_type: int = 0,
    byteorder: str = LITTLE,
) -> bytes:
    """One complete message: header, 32-byte group fields, data."""
    fields = b"".join(encode_name(g) for g in groups)
    head = pack_header(
        service_type, sender, len(groups), encode_hint(msg_type, byteorder), len(data), byteorder
    )
    return head + fields + bytes(data)


def encode_reject_message(
    old_type: int,
    sender: str | bytes,
    groups: Sequence[str | bytes],
    data: bytes = b"",
    hint: bytes | None = None,
    byteorder: str = LITTLE,
) -> bytes:
    """A reject message (section 7.5): header, the extra 4-byte ``old_type``, groups, data."""
    bits = REJECT_MESS | (old_type & SELF_DISCARD)
    head = pack_header(bits, sender, len(groups), hint or encode_hint(0, byteorder), len(data), byteorder)
    extra = _U32[byteorder].pack(
        old_type & ~ENDIAN_RESERVED | (ENDIAN_RESERVED if byteorder == LITTLE else 0)
    )
    return head + extra + b"".join(encode_name(g) for g in groups) + bytes(data)


# --- frames and the incremental parser ----------------------------------------------------------


class Frame:
    """One complete message as received: decoded header and the raw bytes of the whole frame.

    ``groups`` (names cut at NUL) and ``data`` are computed from ``raw`` on access, so a
    relay that only forwards ``raw`` pays for nothing else. ``old_type`` is set (endian bits
    cleared) for reject messages only.
    """

    __slots__ = ("header", "raw", "old_type")

    def __init__(self, header: Header, raw: bytes, old_type: int | None = None) -> None:
        self.header = header
        self.raw = raw
        self.old_type = old_type

    @property
    def _groups_offset(self) -> int:
        return HEADER_LEN + (4 if self.old_type is not None else 0)

    @property
    def group_fields(self) -> list[bytes]:
        start = self._groups_offset
        return [self.raw[start + i * 32 : start + i * 32 + 32] for i in range(self.header.num_groups)]

    @property
    def groups(self) -> list[bytes]:
        return [decode_name(f) for f in self.group_fields]

    @property
    def data(self) -> bytes:
        return self.raw[self._groups_offset + MAX_GROUP_NAME * self.header.num_groups :]

    def __repr__(self) -> str:
        h = self.header
        return (
            f"Frame(type=0x{h.type:08x}, sender={h.sender_name!r}, groups={self.groups!r}, "
            f"msg_type={h.msg_type}, data_len={h.data_len}, byteorder={h.byteorder})"
        )


HeaderCheck = Callable[[Header], None]


class _Default:
    """Marker of an argument left at its default."""


_DEFAULT = _Default()


class MessageParser:
    """Incremental message parser over a byte stream (either direction).

    ``feed()`` appends bytes; ``next_frame()`` returns the next complete ``Frame`` or ``None``.
    When a header is complete, before waiting for its body, the parser checks the counts
    (non-negative, ``num_groups <= max_groups`` if given, data plus group fields within
    ``max_body``) and calls ``check_header`` (which may raise); so a hostile header never
    makes it buffer more than one legal frame. Work is linear in the bytes fed. After an
    error the parser stays failed and raises the same error again.

    ``from_daemon=True`` reads the extra ``old_type`` field of reject messages. ``max_groups``
    defaults to 100 (``MAX_GROUPS_PER_MESSAGE``) for messages from clients and to no limit
    for messages from the daemon (a membership message lists every member); ``None`` is no
    limit.
    """

    def __init__(
        self,
        *,
        from_daemon: bool = False,
        max_groups: int | None | _Default = _DEFAULT,
        max_body: int = MAX_MESSAGE_BODY_LEN - HEADER_LEN,
        check_header: HeaderCheck | None = None,
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._from_daemon = from_daemon
        if isinstance(max_groups, _Default):
            max_groups = None if from_daemon else MAX_GROUPS_PER_MESSAGE
        self._max_groups = max_groups
        self._max_body = max_body
        self._check_header = check_header
        self._header: Header | None = None
        self._frame_len = 0
        self._has_old_type = False
        self._error: SpreadWireError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> Frame | None:
        if self._error is not None:
            raise self._error
        try:
            return self._next_frame()
        except SpreadWireError as exc:
            self._error = exc
            raise

    def frames(self) -> Iterator[Frame]:
        """Every complete frame buffered so far."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def _next_frame(self) -> Frame | None:
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        header = self._header
        if header is None:
            if available < HEADER_LEN:
                return None
            header = unpack_header(buf, pos)
            self._frame_len = self._checked_length(header)
            if self._check_header is not None:
                self._check_header(header)
            self._header = header
        total = self._frame_len
        if available < total:
            return None
        if pos == 0 and total == len(buf):
            raw = bytes(buf)
            buf.clear()
            self._pos = 0
        else:
            raw = bytes(buf[pos : pos + total])
            self._pos = pos + total
        self._header = None
        old_type = None
        if self._has_old_type:
            old_type = _U32[header.byteorder].unpack_from(raw, HEADER_LEN)[0] & ~ENDIAN_RESERVED
        return Frame(header, raw, old_type)

    def _checked_length(self, header: Header) -> int:
        num_groups, data_len = header.num_groups, header.data_len
        if num_groups < 0 or data_len < 0:
            raise InvalidHeader(f"negative count: num_groups {num_groups}, data_len {data_len}")
        if self._max_groups is not None and num_groups > self._max_groups:
            raise InvalidHeader(f"num_groups {num_groups} exceeds {self._max_groups}")
        body = data_len + MAX_GROUP_NAME * num_groups
        if data_len > MAX_MESSAGE_BODY_LEN or body > self._max_body:
            raise InvalidHeader(f"message too large: data_len {data_len}, num_groups {num_groups}")
        self._has_old_type = bool(self._from_daemon and header.type & REJECT_MESS)
        return HEADER_LEN + (4 if self._has_old_type else 0) + body


# --- membership messages ----------------------------------------------------------------------


class GroupId(NamedTuple):
    proc_id: int
    time: int
    index: int


class MembershipBody(NamedTuple):
    """A decoded membership body.

    ``vs_sets`` are tuples of member names; ``my_vs_set`` the index of the receiver's own
    vs-set (found from the offset field; -1 if the offset matches no set);
    ``my_vs_set_offset`` the raw offset field (bytes from the end of that field).
    """

    group_id: GroupId
    vs_sets: tuple[tuple[bytes, ...], ...]
    my_vs_set: int
    my_vs_set_offset: int

    @property
    def changed_member(self) -> bytes | None:
        """The joined, left or disconnected member (first name of the first vs-set)."""
        return self.vs_sets[0][0] if self.vs_sets and self.vs_sets[0] else None


_GROUP_ID = {LITTLE: struct.Struct("<iii"), BIG: struct.Struct(">iii")}
_MEMB_HEAD = {LITTLE: struct.Struct("<iiiII"), BIG: struct.Struct(">iiiII")}
_MEMB_HINT = {LITTLE: encode_hint(0, LITTLE), BIG: encode_hint(0, BIG)}


def encode_membership_body(
    group_id: GroupId,
    vs_sets: Sequence[Sequence[bytes]],
    my_vs_set: int = 0,
    byteorder: str = LITTLE,
) -> bytes:
    """group_id, number of vs-sets, offset of the receiver's own set, then the sets."""
    u32 = _U32[byteorder]
    offset = 0
    parts = []
    for i, members in enumerate(vs_sets):
        if i == my_vs_set:
            my_offset = offset
        part = u32.pack(len(members)) + b"".join(encode_name(m) for m in members)
        parts.append(part)
        offset += len(part)
    if not 0 <= my_vs_set < len(vs_sets):
        my_offset = 0
    head = _MEMB_HEAD[byteorder].pack(*group_id, len(vs_sets), my_offset)
    return head + b"".join(parts)


def encode_membership(
    cause: int,
    group: str | bytes,
    members: Sequence[bytes],
    group_id: GroupId,
    vs_sets: Sequence[Sequence[bytes]],
    my_vs_set: int = 0,
    byteorder: str = LITTLE,
) -> bytes:
    """A regular membership message (REG_MEMB_MESS | cause) as the daemon sends it.

    ``members`` go out in the order given (the daemon sorts them by name).
    """
    body = encode_membership_body(group_id, vs_sets, my_vs_set, byteorder)
    fields = b"".join(encode_name(m) for m in members)
    head = pack_header(
        REG_MEMB_MESS | cause, group, len(members), _MEMB_HINT[byteorder], len(body), byteorder
    )
    return head + fields + body


def encode_self_leave(group: str | bytes, byteorder: str = LITTLE) -> bytes:
    """The notice to a session that left ``group``: CAUSED_BY_LEAVE alone, no groups, no body."""
    return pack_header(CAUSED_BY_LEAVE, group, 0, _MEMB_HINT[byteorder], 0, byteorder)


def encode_transitional(group: str | bytes, group_id: GroupId, byteorder: str = LITTLE) -> bytes:
    """A transitional membership message: TRANSITION_MESS, body = the group id."""
    body = _GROUP_ID[byteorder].pack(*group_id)
    return pack_header(TRANSITION_MESS, group, 0, _MEMB_HINT[byteorder], len(body), byteorder) + body


def decode_membership(body: bytes, byteorder: str = LITTLE) -> MembershipBody:
    """Decode a membership body (regular, or the 12-byte transitional one)."""
    if len(body) < 12:
        raise InvalidFrame(f"membership body of {len(body)} bytes has no group id")
    group_id = GroupId(*_GROUP_ID[byteorder].unpack_from(body, 0))
    if len(body) == 12:
        return MembershipBody(group_id, (), -1, 0)
    if len(body) < 20:
        raise InvalidFrame(f"membership body of {len(body)} bytes is truncated")
    u32 = _U32[byteorder]
    num_sets = u32.unpack_from(body, 12)[0]
    my_offset = u32.unpack_from(body, 16)[0]
    sets = []
    my_index = -1
    pos = 20
    for i in range(num_sets):
        if pos - 20 == my_offset:
            my_index = i
        if pos + 4 > len(body):
            raise InvalidFrame(f"vs-set {i} of {num_sets} is missing")
        count = u32.unpack_from(body, pos)[0]
        pos += 4
        if count > (len(body) - pos) // MAX_GROUP_NAME:
            raise InvalidFrame(f"vs-set {i} claims {count} members beyond the body")
        sets.append(tuple(decode_name(body[pos + k * 32 : pos + k * 32 + 32]) for k in range(count)))
        pos += count * MAX_GROUP_NAME
    return MembershipBody(group_id, tuple(sets), my_index, my_offset)


# --- classification (library predicates) --------------------------------------------------------


def is_regular(service_type: int) -> bool:
    return bool(service_type & REGULAR_MESS) and not service_type & REJECT_MESS


def is_membership(service_type: int) -> bool:
    return bool(service_type & MEMBERSHIP_MESS) and not service_type & REJECT_MESS


def is_self_leave(service_type: int) -> bool:
    return bool(service_type & CAUSED_BY_LEAVE) and not service_type & (REG_MEMB_MESS | TRANSITION_MESS)
