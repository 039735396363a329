"""The archive ring: found by sequence number, bounded, replayed as ARCHIVE_MSG."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from scmaster3.archive import MessageArchive
from scmaster3.protocol import NetworkMessage, next_sequence_number


def body(seq: int, data: bytes = b"x") -> bytes:
    return NetworkMessage(257, "PICK", seq, 1000 + seq, data, "#a#b", 1).encode()


def test_replay_runs_from_the_anchor_to_the_newest():
    archive = MessageArchive(capacity=10)
    for seq in (3, 4, 7, 9):  # gaps: replies and other messages draw from the same counter
        archive.store(seq, 1000 + seq, body(seq))
    replay = archive.replay(4, 1004)
    assert [entry.seq_num for entry in replay] == [4, 7, 9]
    assert archive.replay(9, 1009) == [archive.replay(9, 1009)[0]]


def test_replayed_copy_is_an_archive_message_with_the_original_destination():
    archive = MessageArchive()
    archive.store(5, 1005, body(5, b"payload"))
    copy = NetworkMessage.decode(archive.replay(5, 1005)[0].archive_copy())
    assert copy == NetworkMessage(2, "PICK", 5, 1005, b"payload", "#a#b", 1)
    # the stored message keeps its content type
    assert struct.unpack_from("<i", archive.replay(5, 1005)[0].body)[0] == 257


def test_unknown_anchor_or_wrong_time_is_invalid():
    archive = MessageArchive()
    archive.store(5, 1005, body(5))
    assert archive.replay(6, 1006) is None
    assert archive.replay(5, 1004) is None
    assert MessageArchive().replay(0, 0) is None


def test_oldest_messages_go_first_when_full():
    archive = MessageArchive(capacity=3)
    for seq in range(1, 6):
        archive.store(seq, 1000 + seq, body(seq))
    assert len(archive) == 3
    assert archive.replay(2, 1002) is None
    assert [entry.seq_num for entry in archive.replay(3, 1003)] == [3, 4, 5]


def test_bounded_in_bytes():
    archive = MessageArchive(capacity=100, max_bytes=1000)
    for seq in range(1, 21):
        archive.store(seq, 1000 + seq, body(seq, b"y" * 100))
    assert archive.size_bytes <= 1000
    newest = archive.replay(20, 1020)
    assert [entry.seq_num for entry in newest] == [20]
    assert archive.replay(1, 1001) is None
    assert sum(len(entry.body) for entry in archive.replay(20 - len(archive) + 1, 1021 - len(archive))) == (
        archive.size_bytes
    )


def test_replay_across_the_counter_wrap():
    archive = MessageArchive(capacity=10)
    seq = 62_998
    stored = []
    for _ in range(5):
        archive.store(seq, seq, body(seq))
        stored.append(seq)
        seq = next_sequence_number(seq)
    assert stored == [62_998, 62_999, 63_000, 0, 1]
    assert [entry.seq_num for entry in archive.replay(62_999, 62_999)] == [62_999, 63_000, 0, 1]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=60), st.integers(1, 20))
def test_replay_is_always_a_suffix_of_what_is_kept(sizes, capacity):
    archive = MessageArchive(capacity=capacity, max_bytes=2000)
    seq = 0
    kept = []
    for size in sizes:
        seq = next_sequence_number(seq)
        archive.store(seq, seq, b"z" * size)
        kept.append(seq)
    assert archive.size_bytes <= 2000 or len(archive) == 1
    assert len(archive) <= capacity
    present = [s for s in kept if archive.replay(s, s) is not None]
    assert present == kept[-len(present) :]
    assert [entry.seq_num for entry in archive.replay(present[0], present[0])] == present
