"""The one error the archive codecs raise."""

from __future__ import annotations


class ArchiveError(ValueError):
    """Bytes that are not a valid archive or payload, or an object that cannot be archived.

    ``reason`` says what is wrong, ``offset`` where (bytes from the start of the archive, when
    known) and ``path`` which member was being read or written, outermost first, as
    ``(class name, attribute name)`` pairs; ``class_name`` and ``attribute`` are its last pair.
    """

    def __init__(
        self, reason: str, *, offset: int | None = None, path: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.path: list[tuple[str, str]] = list(path)

    def add_frame(self, class_name: str, attribute: str) -> None:
        """Record an enclosing member (called while the error travels outwards)."""
        self.path.insert(0, (class_name, attribute))

    @property
    def class_name(self) -> str | None:
        return self.path[-1][0] if self.path else None

    @property
    def attribute(self) -> str | None:
        return self.path[-1][1] if self.path else None

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append("in " + " > ".join(f"{cls}.{attr}" if attr else cls for cls, attr in self.path))
        if self.offset is not None:
            where.append(f"at offset {self.offset}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason
