"""The mediator's archive ring: the last relayed data messages, replayed on ARCHIVE_REQUEST_MSG.

A client that lost its connection asks, after reconnecting, for everything relayed since the
last message it processed, naming that message by the ``seqNum`` and ``timeStamp`` the
mediator stamped on it. The ring keeps the stamped bodies of the most recent relayed data
messages (at most ``capacity`` messages and ``max_bytes`` bytes, oldest dropped first) and
finds a message by its sequence number.

Deliberate differences from SeisComP3's scmaster (spec sc3-messaging.md section 4.7), whose
ring does not work in practice:

* The ring is indexed by the sequence number the message was relayed with. SeisComP3
  computes the slot from the number the message arrived with, 0 for every client message,
  so all messages overwrite one slot and no replay ever finds its anchor.
* A replay runs from the requested message (included, as in SeisComP3: the client sees its
  anchor again first) to the newest message, in relay order, and then ends; it never loops.
  A request whose anchor is gone (overwritten, evicted, or never relayed), or whose
  timestamp does not match, is answered with INVAlID_ARCHIVE_REQUEST_MSG as in SeisComP3.
* Replayed copies go to the requester's private group only, not to the original group, so
  other members do not get duplicates; ``destination`` still names the original group,
  which is what a client's ``subscribeArchive`` filter looks at.
* Each copy is sent with ``type`` exactly 2 (ARCHIVE_MSG), which is what clients accept;
  the stored message itself is left unchanged (SeisComP3 overwrites the stored type, losing
  the content type for good). As in SeisComP3, type 2 says "binary": a replayed XML message
  is not readable by the client.
* The ring is bounded in bytes as well as in messages.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from scmaster3.protocol.constants import MASTER_ARCHIVE_SIZE, MessageType

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_ARCHIVE_TYPE = struct.pack("<i", MessageType.ARCHIVE_MSG)


class ArchivedMessage(NamedTuple):
    """A relayed data message: its stamp and its stamped body."""

    seq_num: int
    timestamp: int
    body: bytes

    def archive_copy(self) -> bytes:
        """The body to replay: the same message with ``type`` 2 (ARCHIVE_MSG)."""
        return _ARCHIVE_TYPE + self.body[4:]


class MessageArchive:
    """A ring of the most recent relayed data messages, found by sequence number."""

    def __init__(self, capacity: int = MASTER_ARCHIVE_SIZE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if capacity < 1:
            raise ValueError("an archive holds at least one message")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._slots: list[ArchivedMessage | None] = [None] * capacity
        self._position_of: dict[int, int] = {}  # seq_num -> position of its newest copy
        self._oldest = 0  # positions count every message ever stored; slot = position % capacity
        self._next = 0
        self._bytes = 0

    def __len__(self) -> int:
        return self._next - self._oldest

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def store(self, seq_num: int, timestamp: int, body: bytes) -> None:
        """Keep a relayed message (its stamped body), dropping the oldest ones beyond the bounds."""
        if len(self) == self.capacity:
            self._evict_oldest()
        position = self._next
        self._slots[position % self.capacity] = ArchivedMessage(seq_num, timestamp, body)
        self._position_of[seq_num] = position
        self._next = position + 1
        self._bytes += len(body)
        while self._bytes > self.max_bytes and len(self) > 1:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        position = self._oldest
        slot = position % self.capacity
        entry = self._slots[slot]
        self._slots[slot] = None
        self._oldest = position + 1
        if entry is not None:
            self._bytes -= len(entry.body)
            if self._position_of.get(entry.seq_num) == position:
                del self._position_of[entry.seq_num]

    def replay(self, seq_num: int, timestamp: int) -> list[ArchivedMessage] | None:
        """The messages from the one stamped ``(seq_num, timestamp)`` to the newest, in relay order.

        None when that message is not in the ring (the request is invalid).
        """
        position = self._position_of.get(seq_num)
        if position is None:
            return None
        anchor = self._slots[position % self.capacity]
        if anchor is None or anchor.timestamp != timestamp:
            return None
        slots, capacity = self._slots, self.capacity
        return [entry for p in range(position, self._next) if (entry := slots[p % capacity]) is not None]
