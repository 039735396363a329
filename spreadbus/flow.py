"""Flow control toward protected sessions, as bookkeeping over counts (no I/O).

Spread drops a session that lets ``MaxSessionMessages`` messages pile up in the daemon. A
*protected* session (the mediator ``_MASTER_``, which every module sends to) must not be
dropped that way: its senders are slowed down instead. Each protected session has a
``Gate`` that counts what the daemon holds for it. When the count reaches the high mark,
in messages or in bytes, the gate is *congested*: a message for that session from an
unprotected sender is not delivered, the sender is parked at the gate (the daemon stops
reading its socket, so it blocks in its own writes) and the message waits, with the rest of
what that sender sent, until the gate opens. The gate opens once the queue has drained to
the low marks (half the high ones) or the protected session is gone, and hands back the
parked senders in the order they arrived.

The daemon owns the queue and the sockets; it tells the gate what it queued (``queued``)
and what it wrote out (``sent``), and asks it whether it may deliver (``congested``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

Sender = TypeVar("Sender", bound=Hashable)

DEFAULT_HIGH_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Marks:
    """High marks of a protected session's queue; the low marks are half of them."""

    messages: int
    bytes: int = DEFAULT_HIGH_BYTES

    def __post_init__(self) -> None:
        if self.messages < 1 or self.bytes < 1:
            raise ValueError(
                f"flow-control marks must be positive: {self.messages} messages, {self.bytes} bytes"
            )

    @property
    def low_messages(self) -> int:
        return self.messages // 2

    @property
    def low_bytes(self) -> int:
        return self.bytes // 2


@dataclass(frozen=True, slots=True)
class FlowStats:
    """What a protected session's gate has seen: the queue now and at its peak, how often
    flow control engaged, how often a sender was parked, and who is parked now."""

    queued: int
    queued_bytes: int
    peak_queued: int
    peak_queued_bytes: int
    congested: bool
    engaged: int
    pauses: int
    waiting: tuple[str, ...]


class Gate(Generic[Sender]):
    """The queue count of one protected session and the senders parked until it drains."""

    def __init__(self, marks: Marks) -> None:
        self.marks = marks
        self.messages = 0
        self.bytes = 0
        self.congested = False
        self.waiting: dict[Sender, None] = {}  # insertion-ordered set
        self.peak_messages = 0
        self.peak_bytes = 0
        self.engaged = 0
        self.pauses = 0

    def queued(self, size: int) -> bool:
        """One message of ``size`` bytes joined the queue; True if that engages the gate."""
        self.messages += 1
        self.bytes += size
        if self.messages > self.peak_messages:
            self.peak_messages = self.messages
        if self.bytes > self.peak_bytes:
            self.peak_bytes = self.bytes
        if self.congested or (self.messages < self.marks.messages and self.bytes < self.marks.bytes):
            return False
        self.congested = True
        self.engaged += 1
        return True

    def sent(self, count: int, size: int) -> bool:
        """``count`` messages of ``size`` bytes in all left the queue; True if the gate is
        congested and the queue is now down to the low marks (time to ``open()``)."""
        self.messages -= count
        self.bytes -= size
        return (
            self.congested and self.messages <= self.marks.low_messages and self.bytes <= self.marks.low_bytes
        )

    def discarded(self) -> None:
        """The queue was thrown away (the session is gone)."""
        self.messages = 0
        self.bytes = 0

    def park(self, sender: Sender) -> None:
        """``sender`` has a message for the congested session: it waits for ``open()``."""
        if sender not in self.waiting:
            self.waiting[sender] = None
            self.pauses += 1

    def forget(self, sender: Sender) -> None:
        """``sender`` is gone while parked."""
        self.waiting.pop(sender, None)

    def open(self) -> list[Sender]:
        """Deliver again; returns the parked senders, first parked first."""
        self.congested = False
        senders = list(self.waiting)
        self.waiting.clear()
        return senders

    def stats(self, spell: Callable[[Sender], str] = str) -> FlowStats:
        """A snapshot; ``spell`` names the parked senders."""
        return FlowStats(
            self.messages,
            self.bytes,
            self.peak_messages,
            self.peak_bytes,
            self.congested,
            self.engaged,
            self.pauses,
            tuple(spell(sender) for sender in self.waiting),
        )
