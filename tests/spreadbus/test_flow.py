"""The flow-control gate of a protected session, as pure bookkeeping."""

import pytest

from spreadbus.flow import FlowStats, Gate, Marks


def test_marks_low_is_half_and_must_be_positive():
    marks = Marks(750, 1000)
    assert (marks.low_messages, marks.low_bytes) == (375, 500)
    assert Marks(1, 1).low_messages == 0
    for messages, size in ((0, 10), (10, 0), (-1, 10)):
        with pytest.raises(ValueError, match="must be positive"):
            Marks(messages, size)


def test_message_mark_engages_once_and_opens_at_the_low_mark():
    gate = Gate(Marks(4, 1 << 20))
    assert [gate.queued(10) for _ in range(3)] == [False, False, False]
    assert gate.queued(10) is True and gate.congested
    assert gate.queued(10) is False  # already congested: engaged only once
    gate.park("a")
    gate.park("b")
    gate.park("a")  # parked once, counted once
    assert gate.sent(2, 20) is False  # 3 queued, above the low mark of 2
    assert gate.sent(1, 10) is True  # down to 2
    assert gate.open() == ["a", "b"] and not gate.congested and not gate.waiting
    assert gate.stats() == FlowStats(
        queued=2,
        queued_bytes=20,
        peak_queued=5,
        peak_queued_bytes=50,
        congested=False,
        engaged=1,
        pauses=2,
        waiting=(),
    )


def test_byte_mark_engages_on_a_few_large_messages():
    gate = Gate(Marks(1000, 100))
    assert gate.queued(60) is False
    assert gate.queued(60) is True  # 120 bytes >= 100
    assert gate.sent(1, 60) is False  # 60 bytes > 50
    assert gate.sent(1, 60) is True
    gate.open()
    assert gate.queued(99) is False and gate.queued(1) is True and gate.engaged == 2


def test_forgotten_senders_are_not_resumed_and_discard_resets_counts():
    gate = Gate(Marks(1, 100))
    assert gate.queued(5)
    for sender in ("a", "b", "c"):
        gate.park(sender)
    gate.forget("b")
    gate.forget("never parked")
    assert gate.stats(str.upper).waiting == ("A", "C")
    gate.discarded()
    assert (gate.messages, gate.bytes, gate.peak_messages) == (0, 0, 1)  # the peak stays
    assert gate.congested and gate.open() == ["a", "c"]
