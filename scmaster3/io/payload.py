"""Messages as the ``data`` field of SeisComP3 data messages (spec sc3-datamodel.md section 5).

A content type (``type >> 8`` of the network message) names an archive format and whether the
archive travels as a zlib stream. This module keeps a registry of archive formats: ``binary``
is built in; ``xml`` and ``imported_xml`` are provided by :mod:`scmaster3.io.xml`, imported on
first use; ``bson`` and ``json`` have no codec (such payloads can only be relayed unchanged).

A format registers two functions: ``encode(message, version) -> bytes`` and
``decode(bytes) -> BaseObject``; both raise :class:`~scmaster3.io.errors.ArchiveError` on
failure (anything else a decoder raises is wrapped into one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from scmaster3.datamodel.description import CURRENT_VERSION, Version
from scmaster3.datamodel.types import BaseObject, Message
from scmaster3.io import binary
from scmaster3.io.errors import ArchiveError
from scmaster3.protocol.constants import ContentType
from scmaster3.protocol.errors import ProtocolError
from scmaster3.protocol.payload import MAX_INFLATED_SIZE, decode_data_field, encode_data_field

ArchiveEncoder = Callable[[BaseObject, Version], bytes]
ArchiveDecoder = Callable[[bytes], BaseObject]

FORMAT_OF_CONTENT_TYPE: dict[ContentType, str] = {
    ContentType.CONTENT_BINARY: "binary",
    ContentType.CONTENT_XML: "xml",
    ContentType.CONTENT_UNCOMPRESSED_XML: "xml",
    ContentType.CONTENT_IMPORTED_XML: "imported_xml",
    ContentType.CONTENT_BSON: "bson",
    ContentType.CONTENT_UNCOMPRESSED_BSON: "bson",
    ContentType.CONTENT_JSON: "json",
    ContentType.CONTENT_UNCOMPRESSED_JSON: "json",
}
"""The archive format inside the payload of each content type."""

FORMAT_PROVIDERS: dict[str, str] = {"xml": "scmaster3.io.xml", "imported_xml": "scmaster3.io.xml"}
"""Modules that register a format when imported; imported the first time the format is needed."""


@dataclass(frozen=True)
class ArchiveFormat:
    name: str
    encode: ArchiveEncoder
    decode: ArchiveDecoder


_FORMATS: dict[str, ArchiveFormat] = {}


def register_format(name: str, encode: ArchiveEncoder, decode: ArchiveDecoder) -> None:
    """Make ``name`` (``binary``, ``xml``, ``imported_xml``, ``bson``, ``json``) usable in payloads."""
    _FORMATS[name] = ArchiveFormat(name, encode, decode)


def archive_format(name: str) -> ArchiveFormat:
    """The registered format ``name``; ArchiveError if no codec provides it."""
    found = _FORMATS.get(name)
    if found is None and name in FORMAT_PROVIDERS:
        try:
            importlib.import_module(FORMAT_PROVIDERS[name])
        except ImportError:
            pass  # the provider's own dependency (lxml) is missing: no codec, said below
        found = _FORMATS.get(name)
    if found is None:
        raise ArchiveError(f"no codec for {name} payloads")
    return found


def _content_type(content_type: int) -> ContentType:
    try:
        return ContentType(content_type)
    except ValueError:
        raise ArchiveError(f"unknown content type {content_type}") from None


def encode_payload(
    message: Message,
    content_type: int = ContentType.CONTENT_BINARY,
    version: Version | None = CURRENT_VERSION,
) -> bytes:
    """The ``data`` field carrying ``message`` as ``content_type``, archived at schema ``version``.

    ``version`` is the schema version negotiated with the master (0.0 for protocol 1.0:
    a binary archive without header); ``None`` means the current version.
    """
    kind = _content_type(content_type)
    if not isinstance(message, Message):
        raise ArchiveError(f"a payload carries a message, not a {type(message).__name__}")
    archive = archive_format(FORMAT_OF_CONTENT_TYPE[kind]).encode(message, version or CURRENT_VERSION)
    return encode_data_field(archive, kind)


def decode_payload(data: bytes, content_type: int, *, max_size: int = MAX_INFLATED_SIZE) -> Message:
    """The message carried by a ``data`` field of ``content_type``.

    Compressed content types are inflated to at most ``max_size`` bytes. Raises ArchiveError for
    an unknown content type, a broken zlib stream, a format without codec or a malformed archive.
    """
    kind = _content_type(content_type)
    codec = archive_format(FORMAT_OF_CONTENT_TYPE[kind])
    try:
        archive = decode_data_field(data, kind, max_size)
    except ProtocolError as exc:
        raise ArchiveError(exc.reason) from exc
    try:
        message = codec.decode(archive)
    except ArchiveError:
        raise
    except Exception as exc:
        raise ArchiveError(f"undecodable {codec.name} payload: {exc!r}") from exc
    if not isinstance(message, Message):
        raise ArchiveError(f"the payload holds a {type(message).__name__}, not a message")
    return message


def _decode_binary_message(data: bytes) -> BaseObject:
    return binary.decode(data, "Message")


register_format("binary", binary.encode, _decode_binary_message)
