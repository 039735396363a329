"""``Time``: a SeisComP3 ``Core::Time``, seconds since 1970 plus microseconds, kept exactly."""

from __future__ import annotations

import datetime as _dt
from operator import itemgetter

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class Time(tuple):
    """Seconds and microseconds as archives carry them (two signed 32-bit integers).

    Values are stored as given, without normalisation, so a decoded time re-encodes to the same
    bytes. Immutable and hashable; a ``Time`` equals only another ``Time`` with the same two
    numbers. ``Time.from_datetime`` and ``to_datetime`` convert to and from aware UTC datetimes.
    """

    __slots__ = ()

    seconds = property(itemgetter(0), doc="Seconds since 1970-01-01T00:00:00Z.")
    microseconds = property(itemgetter(1), doc="Microseconds, as stored (normally 0..999999).")

    def __new__(cls, seconds: int = 0, microseconds: int = 0) -> Time:
        for label, value in (("seconds", seconds), ("microseconds", microseconds)):
            if type(value) is not int:
                raise TypeError(f"Time {label} must be an int, got {type(value).__name__}")
            if not _INT32_MIN <= value <= _INT32_MAX:
                raise ValueError(f"Time {label} {value} outside the 32-bit range of the archives")
        return tuple.__new__(cls, (seconds, microseconds))

    # A plain tuple would otherwise answer for the comparison and find (s, us) == Time(s, us).
    def __eq__(self, other: object) -> bool:
        if type(other) is not Time:
            return False if isinstance(other, tuple) else NotImplemented
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if type(other) is not Time:
            return True if isinstance(other, tuple) else NotImplemented
        return tuple.__ne__(self, other)

    __hash__ = tuple.__hash__

    def __lt__(self, other: object) -> bool:
        if type(other) is not Time:
            return NotImplemented
        return self.total_microseconds() < other.total_microseconds()

    def __le__(self, other: object) -> bool:
        if type(other) is not Time:
            return NotImplemented
        return self.total_microseconds() <= other.total_microseconds()

    def __gt__(self, other: object) -> bool:
        if type(other) is not Time:
            return NotImplemented
        return self.total_microseconds() > other.total_microseconds()

    def __ge__(self, other: object) -> bool:
        if type(other) is not Time:
            return NotImplemented
        return self.total_microseconds() >= other.total_microseconds()

    def __repr__(self) -> str:
        return f"Time({self[0]}, {self[1]})"

    def __getnewargs__(self) -> tuple[int, int]:
        return (self[0], self[1])

    def total_microseconds(self) -> int:
        return self[0] * 1_000_000 + self[1]

    def normalized(self) -> Time:
        """The same instant with 0 <= microseconds < 1 000 000."""
        seconds, micro = divmod(self.total_microseconds(), 1_000_000)
        return Time(seconds, micro)

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> Time:
        """A datetime (naive ones are taken as UTC) to a Time."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        seconds, micro = divmod((value - _EPOCH) // _dt.timedelta(microseconds=1), 1_000_000)
        return cls(seconds, micro)

    def to_datetime(self) -> _dt.datetime:
        """The instant as an aware UTC datetime."""
        return _EPOCH + _dt.timedelta(microseconds=self.total_microseconds())
