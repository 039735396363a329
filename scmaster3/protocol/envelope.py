"""The bodies of SeisComP3 messages: NetworkMessage (data) and ServiceMessage (service).

A body is the data of one Spread regular message, written with SeisComP3's plain binary
archive: little-endian int32 fields and strings as an int32 length followed by that many
raw bytes, back to back, in declaration order::

    NetworkMessage  type, destination, seqNum, timeStamp, data, privateSenderGroup, tagged
    ServiceMessage  the same seven, then protocolVersion, clientType, clientPriority,
                    archiveSeqNum, archiveTimestamp, password, peerGroup

What a reader tolerates (and nothing more): a body that ends exactly between two fields
leaves the missing fields at their defaults, and bytes after the last field are ignored,
as the C++ reader does. A body that ends inside a field, a negative or overlong string
length, or a body larger than :data:`MAX_BODY_SIZE` raise :class:`ProtocolError`, before
anything is allocated for the field. Which of the two bodies a Spread message holds is
chosen by the sign of its Spread message type (:func:`decode_message`).

Text fields (group names, versions, password) are ``str`` with one character per byte
(latin-1), so any byte string survives a decode/encode round trip; ``data`` is ``bytes``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Self

from scmaster3.protocol.constants import (
    MAX_BODY_SIZE,
    PROTOCOL_VERSION_V1_0,
    ClientPriority,
    ClientType,
    content_type_of,
    message_type_of,
    spread_mess_type,
)
from scmaster3.protocol.errors import ProtocolError

_INT32 = struct.Struct("<i")
_TWO_INT32 = struct.Struct("<ii")
_FOUR_INT32 = struct.Struct("<iiii")
_TEXT_ENCODING = "latin-1"


# Field layouts: (name, kind) in wire order; kind is "i" int32, "s" text, "b" bytes.
_NETWORK_FIELDS = (
    ("type", "i"),
    ("destination", "s"),
    ("seq_num", "i"),
    ("timestamp", "i"),
    ("data", "b"),
    ("private_sender_group", "s"),
    ("tagged", "i"),
)
_SERVICE_FIELDS = _NETWORK_FIELDS + (
    ("protocol_version", "s"),
    ("client_type", "i"),
    ("client_priority", "i"),
    ("archive_seq_num", "i"),
    ("archive_timestamp", "i"),
    ("password", "s"),
    ("peer_group", "s"),
)


def _read_fields(body: bytes, layout: tuple[tuple[str, str], ...]) -> list[object]:
    """The values of the fields present, in wire order, stopping at a clean end of the body."""
    unpack = _INT32.unpack_from
    end = len(body)
    position = 0
    values: list[object] = []
    for name, kind in layout:
        if position >= end:
            break
        start = position
        if end - position < 4:
            raise ProtocolError(
                f"body ends inside an int32 ({end - position} of 4 bytes)", offset=start, field=name
            )
        number = unpack(body, position)[0]
        position += 4
        if kind == "i":
            values.append(number)
            continue
        if number < 0:
            raise ProtocolError(f"negative string length {number}", offset=start, field=name)
        if number > end - position:
            raise ProtocolError(
                f"string length {number} runs past the end of the body ({end - position} bytes left)",
                offset=start,
                field=name,
            )
        raw = body[position : position + number]
        position += number
        values.append(raw if kind == "b" else raw.decode(_TEXT_ENCODING))
    # An empty body still has a type: UNDEFINED_MSG.
    return values or [0]


def _check_body_size(body: bytes) -> None:
    if len(body) > MAX_BODY_SIZE:
        raise ProtocolError(f"body of {len(body)} bytes exceeds the limit of {MAX_BODY_SIZE}", offset=0)


def _string(value: str | bytes, field: str) -> bytes:
    try:
        raw = value.encode(_TEXT_ENCODING) if isinstance(value, str) else bytes(value)
    except (UnicodeEncodeError, TypeError) as exc:
        raise ProtocolError(f"cannot encode {value!r}: {exc}", field=field) from None
    return _INT32.pack(len(raw)) + raw


def _int32(values: struct.Struct, *fields: int) -> bytes:
    try:
        return values.pack(*fields)
    except struct.error as exc:
        raise ProtocolError(f"integer field out of int32 range in {fields}: {exc}") from None


def _check_encoded_size(body: bytes) -> bytes:
    if len(body) > MAX_BODY_SIZE:
        raise ProtocolError(f"encoded body of {len(body)} bytes exceeds the limit of {MAX_BODY_SIZE}")
    return body


class _Body:
    """What both bodies offer beyond their fields."""

    __slots__ = ()
    type: int
    data: bytes

    @property
    def mess_type(self) -> int:
        """The Spread message type to send this body with."""
        return spread_mess_type(self.type)

    @property
    def text(self) -> str:
        """``data`` as text, one character per byte."""
        return self.data.decode(_TEXT_ENCODING)

    def stamped(self, seq_num: int, timestamp: int) -> Self:
        """This message with the master's stamp: sequence number, Unix time, ``tagged`` = 1."""
        return replace(self, seq_num=seq_num, timestamp=timestamp, tagged=1)


@dataclass(frozen=True, slots=True)
class NetworkMessage(_Body):
    """A data message body (Spread message type > 0).

    ``type`` is the data type (1 binary, 257 XML, ... see :func:`data_type`), ``destination``
    the target group (or a private group), ``seq_num``/``timestamp``/``tagged`` the master's
    stamp (all 0 when a client sends), ``data`` the payload and ``private_sender_group`` the
    private group of the original sender.
    """

    type: int
    destination: str = ""
    seq_num: int = 0
    timestamp: int = 0
    data: bytes = b""
    private_sender_group: str = ""
    tagged: int = 0

    @property
    def message_type(self) -> int:
        """DATA_MSG or ARCHIVE_MSG: the low 7 bits of ``type``."""
        return message_type_of(self.type)

    @property
    def content_type(self) -> int:
        """The payload encoding held in ``type`` (0 binary, 1 XML, ...)."""
        return content_type_of(self.type)

    def encode(self) -> bytes:
        """The body bytes; ProtocolError if a field cannot be written or the body is too large."""
        return _check_encoded_size(_encode_common(self))

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Read a NetworkMessage body; see the module documentation for what is tolerated."""
        _check_body_size(body)
        return cls(*_read_fields(bytes(body), _NETWORK_FIELDS))


def _encode_common(message: NetworkMessage | ServiceMessage) -> bytes:
    """The seven fields both bodies start with."""
    return b"".join(
        (
            _int32(_INT32, message.type),
            _string(message.destination, "destination"),
            _int32(_TWO_INT32, message.seq_num, message.timestamp),
            _string(message.data, "data"),
            _string(message.private_sender_group, "privateSenderGroup"),
            _int32(_INT32, message.tagged),
        )
    )


@dataclass(frozen=True, slots=True)
class ServiceMessage(_Body):
    """A service message body (Spread message type < 0).

    The seven NetworkMessage fields followed by ``protocol_version``, ``client_type``,
    ``client_priority``, ``archive_seq_num``, ``archive_timestamp``, ``password`` and
    ``peer_group``. Defaults are those of a freshly constructed C++ ServiceMessage, which
    every reply of the master keeps unless the protocol says otherwise.
    """

    type: int
    destination: str = ""
    seq_num: int = 0
    timestamp: int = 0
    data: bytes = b""
    private_sender_group: str = ""
    tagged: int = 0
    protocol_version: str = PROTOCOL_VERSION_V1_0
    client_type: int = ClientType.TYPE_ONE
    client_priority: int = ClientPriority.PRIORITY_HIGH
    archive_seq_num: int = 0
    archive_timestamp: int = 0
    password: str = ""
    peer_group: str = ""

    def encode(self) -> bytes:
        """The body bytes; ProtocolError if a field cannot be written or the body is too large."""
        return _check_encoded_size(
            b"".join(
                (
                    _encode_common(self),
                    _string(self.protocol_version, "protocolVersion"),
                    _int32(
                        _FOUR_INT32,
                        self.client_type,
                        self.client_priority,
                        self.archive_seq_num,
                        self.archive_timestamp,
                    ),
                    _string(self.password, "password"),
                    _string(self.peer_group, "peerGroup"),
                )
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Read a ServiceMessage body; see the module documentation for what is tolerated."""
        _check_body_size(body)
        return cls(*_read_fields(bytes(body), _SERVICE_FIELDS))


Message = NetworkMessage | ServiceMessage


def decode_message(body: bytes, mess_type: int | None = None) -> Message:
    """Decode the data of one Spread regular message.

    The parser is chosen by the sign of the Spread ``mess_type`` (> 0 NetworkMessage,
    < 0 ServiceMessage), or by the sign of the body's own ``type`` when ``mess_type`` is
    None. ProtocolError if ``mess_type`` is 0 (such messages are ignored), if the body's
    ``type`` is 0 (UNDEFINED_MSG) or its sign contradicts ``mess_type``, or if the body is
    malformed.
    """
    if mess_type is None:
        if len(body) < 4:
            raise ProtocolError(f"body of {len(body)} bytes has no type field", offset=0, field="type")
        mess_type = _INT32.unpack_from(body, 0)[0]
    if mess_type == 0:
        raise ProtocolError("Spread message type 0 carries no SeisComP3 message")
    message: Message = NetworkMessage.decode(body) if mess_type > 0 else ServiceMessage.decode(body)
    if message.type == 0:
        raise ProtocolError("body type 0 (UNDEFINED_MSG) is never valid", offset=0, field="type")
    if (message.type > 0) != (mess_type > 0):
        raise ProtocolError(
            f"body type {message.type} contradicts Spread message type {mess_type}", offset=0, field="type"
        )
    return message
