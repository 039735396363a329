"""Hostile input to the binary archive reader: only ArchiveError, never a hang or a huge allocation."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scmaster3.datamodel import DataMessage, Pick, RealArray, SyncRequestMessage
from scmaster3.io import ArchiveError, binary

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<i", len(raw)) + raw


def i32(value: int) -> bytes:
    return struct.pack("<i", value)


NEW = i32(-1)
HEADER = b"SCBA\x0b\x00\x00\x00"


@pytest.fixture(scope="module")
def corpus(shared_dir):
    return [p.read_bytes() for p in sorted((shared_dir / "golden/sc3/payloads").glob("*.body.bin"))]


def decode_or_error(data: bytes) -> None:
    """Decoding either fails with ArchiveError or gives an object the writer can archive again."""
    try:
        obj = binary.decode(data)
    except ArchiveError as exc:
        assert exc.reason and (exc.offset is None or 0 <= exc.offset <= len(data))
        return
    binary.encode(obj, binary.archive_version(data)[0])


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    decode_or_error(data)
    decode_or_error(HEADER + data)


@FUZZ
@given(st.data())
def test_mutated_captures(shared_dir, data):
    files = sorted((shared_dir / "golden/sc3/payloads").glob("*.body.bin"))
    original = bytearray(data.draw(st.sampled_from(files)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(original) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "int"]))
        if action == "flip":
            original[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "insert":
            original[where:where] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del original[where : where + data.draw(st.integers(1, 8))]
        else:
            value = data.draw(st.sampled_from([-2, -1, 0, 1, 2**31 - 1, -(2**31), 0x7FFF, 1000]))
            original[where : where + 4] = i32(value)
    decode_or_error(bytes(original))


def test_every_truncation_of_every_capture_is_an_error_with_an_offset(corpus):
    for data in corpus:
        for end in range(len(data)):
            with pytest.raises(ArchiveError) as info:
                binary.decode(data[:end])
            assert info.value.offset is not None and info.value.offset <= end


def test_truncation_names_the_member(corpus):
    pick = next(d for d in corpus if b"Pick" in d)
    with pytest.raises(ArchiveError) as info:
        binary.decode(pick[:155])  # inside the value of the pick time
    assert info.value.path[-2:] == [("Pick", "time"), ("TimeQuantity", "value")]
    assert "Pick.time > TimeQuantity.value" in str(info.value) and "offset" in str(info.value)


@pytest.mark.parametrize("length", [2**31 - 1, 2**30, -1, -(2**31)])
def test_huge_or_negative_lengths_are_rejected_without_allocating(length):
    string = HEADER + NEW + s("sync_request_message") + b"\x01" + i32(length) + b"abc"
    with pytest.raises(ArchiveError, match="length"):
        binary.decode(string)
    sequence = HEADER + NEW + s("data_message") + b"\x01" + i32(length)
    with pytest.raises(ArchiveError, match="count"):
        binary.decode(sequence)
    name = HEADER + NEW + i32(length) + b"data_message"
    with pytest.raises(ArchiveError, match="length"):
        binary.decode(name)


def test_array_count_beyond_the_input():
    data = binary.encode(DataMessage(attachments=[RealArray(content=[1.0, 2.0])]))
    count_at = data.index(i32(2) + struct.pack("<d", 1.0))
    hostile = data[:count_at] + i32(2**28) + data[count_at + 4 :]
    with pytest.raises(ArchiveError, match="count 268435456"):
        binary.decode(hostile)


def test_element_budget_counts_every_sequence_of_the_archive():
    message = DataMessage(
        attachments=[DataMessage(attachments=[Pick(publicID=str(i)) for i in range(4)])] * 2
    )
    data = binary.encode(message)
    assert binary.decode(data, max_elements=10) == message  # 2 + 4 + 4 elements
    with pytest.raises(ArchiveError, match="more than 9 sequence elements"):
        binary.decode(data, max_elements=9)


def test_deep_nesting_is_bounded():
    inner = DataMessage()
    for _ in range(binary.MAX_NESTING + 5):
        inner = DataMessage(attachments=[inner])
    data = binary.encode(inner)
    with pytest.raises(ArchiveError, match="nested deeper"):
        binary.decode(data)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (NEW + s("NoSuchClass") + b"\x01", "found 'NoSuchClass'"),
        (i32(0) + b"\x01", "class id 0 is not in the table"),
        (i32(-7) + b"\x01", "class id -7"),
        (NEW + s("Message") + b"\x01", "abstract"),
        (NEW + s("sync_request_message") + b"\x00", "null object"),
        (NEW + s("data_message") + b"\x01" + i32(1) + NEW + s("Pick") + b"\x00", "first element"),
        (
            NEW + s("notifier_message") + b"\x01" + i32(1) + NEW + s("Pick") + b"\x01",
            "expected class notifier",
        ),
        (
            NEW
            + s("notifier_message")
            + b"\x01"
            + i32(1)
            + NEW
            + s("notifier")
            + b"\x01"
            + s("p")
            + s("maybe"),
            "unknown Operation name b'maybe'",
        ),
    ],
)
def test_structural_errors(body, reason):
    with pytest.raises(ArchiveError, match=reason):
        binary.decode(HEADER + body)


def test_bad_header_version():
    with pytest.raises(ArchiveError, match="invalid archive version"):
        binary.decode(b"SCBA" + i32(0) + NEW + s("sync_request_message") + b"\x01" + s("x"))
    with pytest.raises(ArchiveError, match="header"):
        binary.decode(b"SCBA\x0b")


def test_header_detection_reads_anything_else_as_unversioned():
    data = binary.encode(SyncRequestMessage(id="x"), 0)
    assert binary.decode(data) == SyncRequestMessage(id="x")
    with pytest.raises(ArchiveError, match="class id") as info:
        binary.decode(b"SCB" + data[3:])  # not the magic: read as a class id
    assert info.value.offset == 0


def test_non_utf8_strings_survive_byte_for_byte():
    data = HEADER + NEW + s("sync_request_message") + b"\x01" + i32(3) + b"\xff\xfe\x80"
    message = binary.decode(data)
    assert binary.encode(message) == data


def test_any_nonzero_byte_is_true_as_in_seiscomp():
    data = bytearray(binary.encode(DataMessage(attachments=[Pick(publicID="p")])))
    used = data.index(s("p")) - 1  # the used byte of the first attachment
    data[used] = 7
    assert binary.decode(bytes(data)) == DataMessage(attachments=[Pick(publicID="p")])
