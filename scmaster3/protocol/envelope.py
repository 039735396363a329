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


class _BodyReader:
    """Reads the fields of one body front to back; None means the body ended before it."""

    __slots__ = ("_body", "_pos")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._pos = 0

    def at_end(self) -> bool:
        return self._pos >= len(self._body)

    def int32(self, field: str) -> int:
        start = self._pos
        end = start + 4
        if end > len(self._body):
            raise ProtocolError(
                f"body ends inside an int32 ({len(self._body) - start} of 4 bytes)", offset=start, field=field
            )
        self._pos = end
        return _INT32.unpack_from(self._body, start)[0]

    def raw_string(self, field: str) -> bytes:
        start = self._pos
        length = self.int32(field)
        if length < 0:
            raise ProtocolError(f"negative string length {length}", offset=start, field=field)
        remaining = len(self._body) - self._pos
        if length > remaining:
            raise ProtocolError(
                f"string length {length} runs past the end of the body ({remaining} bytes left)",
                offset=start,
                field=field,
            )
        value = self._body[self._pos : self._pos + length]
        self._pos += length
        return value

    def text(self, field: str) -> str:
        return self.raw_string(field).decode(_TEXT_ENCODING)


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


@dataclass(frozen=True, slots=True)
class NetworkMessage:
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

    def encode(self) -> bytes:
        """The body bytes; ProtocolError if a field cannot be written or the body is too large."""
        return _check_encoded_size(_encode_common(self))

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Read a NetworkMessage body; see the module documentation for what is tolerated."""
        _check_body_size(body)
        return cls(**_read_common(_BodyReader(bytes(body))))


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


def _read_common(reader: _BodyReader) -> dict[str, object]:
    """The seven NetworkMessage fields, stopping at a clean end of the body."""
    fields: dict[str, object] = {"type": 0}
    for name, read in (
        ("type", reader.int32),
        ("destination", reader.text),
        ("seq_num", reader.int32),
        ("timestamp", reader.int32),
        ("data", reader.raw_string),
        ("private_sender_group", reader.text),
        ("tagged", reader.int32),
    ):
        if reader.at_end():
            break
        fields[name] = read(name)
    return fields


@dataclass(frozen=True, slots=True)
class ServiceMessage:
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
        reader = _BodyReader(bytes(body))
        fields = _read_common(reader)
        for name, read in (
            ("protocol_version", reader.text),
            ("client_type", reader.int32),
            ("client_priority", reader.int32),
            ("archive_seq_num", reader.int32),
            ("archive_timestamp", reader.int32),
            ("password", reader.text),
            ("peer_group", reader.text),
        ):
            if reader.at_end():
                break
            fields[name] = read(name)
        return cls(**fields)


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
