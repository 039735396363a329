"""The one error the SeisComP3 messaging codecs raise."""

from __future__ import annotations


class ProtocolError(ValueError):
    """Bytes or text that are not a valid SeisComP3 message or payload.

    ``reason`` says what is wrong, ``offset`` where in the body (bytes from its start) and
    ``field`` which envelope field was being read, when those are known.
    """

    def __init__(self, reason: str, *, offset: int | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.field = field
        where = []
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{reason} ({', '.join(where)})" if where else reason)
