"""The ``data`` field of data messages: compression by content type.

Binary, XML, BSON and JSON payloads travel as a zlib stream (RFC 1950, default level,
15-bit window: what :func:`zlib.compress` writes, byte for byte); the "uncompressed" and
"imported" content types travel as they are. What the payload itself is (a binary or XML
archive of a Core::Message) is the business of the archive codecs, not of this module.
"""

from __future__ import annotations

import zlib

from scmaster3.protocol.constants import COMPRESSED_CONTENT_TYPES, ContentType
from scmaster3.protocol.errors import ProtocolError

# A compressed data field is at most 1 MiB, but zlib can inflate that a thousandfold; the
# bound keeps a hostile payload from taking all memory.
MAX_INFLATED_SIZE = 64 * 1024 * 1024


def _known_content_type(content_type: int) -> ContentType:
    try:
        return ContentType(content_type)
    except ValueError:
        raise ProtocolError(f"unknown content type {content_type}", field="data") from None


def encode_data_field(payload: bytes, content_type: int) -> bytes:
    """The data field that carries ``payload`` for ``content_type``."""
    if _known_content_type(content_type) in COMPRESSED_CONTENT_TYPES:
        return zlib.compress(payload)
    return bytes(payload)


def decode_data_field(data: bytes, content_type: int, max_size: int = MAX_INFLATED_SIZE) -> bytes:
    """The payload carried by a data field; ProtocolError if it does not inflate within ``max_size``."""
    if _known_content_type(content_type) not in COMPRESSED_CONTENT_TYPES:
        return bytes(data)
    inflater = zlib.decompressobj()
    try:
        payload = inflater.decompress(data, max_size)
        # Input left over may be only the checksum; one more byte of output means too large.
        if inflater.unconsumed_tail and inflater.decompress(inflater.unconsumed_tail, 1):
            raise ProtocolError(f"data field inflates to more than {max_size} bytes", field="data")
    except zlib.error as exc:
        raise ProtocolError(f"data field is not a zlib stream: {exc}", field="data") from None
    if not inflater.eof:
        raise ProtocolError("data field is a truncated zlib stream", field="data")
    return payload
