"""The binary archive against the spec's worked examples and the captured SeisComP3 payloads."""

import struct

import pytest

from scmaster3.datamodel import (
    Arrival,
    Comment,
    DatabaseProvideMessage,
    EvaluationMode,
    EvaluationStatus,
    Notifier,
    NotifierMessage,
    Operation,
    Origin,
    OriginDepthType,
    Phase,
    Pick,
    SyncRequestMessage,
    SyncResponseMessage,
    Time,
    Version,
)
from scmaster3.io import ArchiveError, binary
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.protocol import NetworkMessage


def s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<i", len(raw)) + raw


NEW = b"\xff\xff\xff\xff"


def comment_message() -> NotifierMessage:
    return NotifierMessage(
        attachments=[Notifier(parentID="Origin/1", operation="add", object=Comment(text="hi", id="c1"))]
    )


# sc3-datamodel.md 3.7: one notifier adding a Comment to Origin/1, version 0.11.
SPEC_COMMENT_NOTIFIER = b"".join(
    [
        b"SCBA",
        b"\x0b\x00\x00\x00",
        NEW + s("notifier_message"),
        b"\x01",
        b"\x01\x00\x00\x00",
        NEW + s("notifier"),
        b"\x01",
        s("Origin/1"),
        s("add"),
        NEW + s("Comment"),
        b"\x01",
        s("hi"),
        s("c1"),
        b"\x00",
        b"\x00",
        NEW + s("CreationInfo"),
        b"\x00",
    ]
)


def test_spec_comment_notifier_example():
    assert len(SPEC_COMMENT_NOTIFIER) == 124
    assert binary.encode(comment_message()) == SPEC_COMMENT_NOTIFIER
    assert binary.decode(SPEC_COMMENT_NOTIFIER) == comment_message()


def test_second_notifier_uses_the_class_table_and_no_used_byte():
    message = comment_message()
    message.attachments.append(Notifier(parentID="Origin/1", operation="remove", object=Comment(id="c2")))
    data = binary.encode(message)
    second = data[len(SPEC_COMMENT_NOTIFIER) :]
    assert data[:37] == SPEC_COMMENT_NOTIFIER[:33] + b"\x02\x00\x00\x00"  # attachment count
    assert second == b"".join(
        [
            b"\x01\x00\x00\x00",  # class id 1 = notifier, no used byte
            s("Origin/1"),
            s("remove"),
            b"\x02\x00\x00\x00\x01",  # class id 2 = Comment, used
            s(""),
            s("c2"),
            b"\x00\x00",
            b"\x03\x00\x00\x00\x00",  # class id 3 = CreationInfo, absent
        ]
    )
    assert binary.decode(data) == message


def test_unversioned_archive_has_no_header_and_no_versioned_members():
    data = binary.encode(comment_message(), Version(0, 0))
    expected = SPEC_COMMENT_NOTIFIER[8:].replace(s("c1") + b"\x00\x00", s("c1"))
    assert data == expected
    assert binary.archive_version(data) == (Version(0, 0), 0)
    assert binary.decode(data) == comment_message()
    assert binary.encode(comment_message(), 0) == data


def test_older_versions_drop_newer_members():
    comment = Comment(text="hi", id="c1", start=Time(5, 0))
    message = NotifierMessage(attachments=[Notifier(parentID="O", operation="add", object=comment)])
    data = binary.encode(message, Version(0, 9))
    assert data[:8] == b"SCBA\x09\x00\x00\x00"
    decoded = binary.decode(data)
    assert decoded.attachments[0].object.start is None
    assert binary.decode(binary.encode(message, Version(0, 10))).attachments[0].object.start == Time(5, 0)


def test_null_notifier_object_writes_object_class_and_absent():
    data = binary.encode(NotifierMessage(attachments=[Notifier(parentID="x", operation="update")]))
    assert data.endswith(s("update") + NEW + s("Object") + b"\x00")
    assert binary.decode(data).attachments[0].object is None


# sc3-messaging.md 2.7: the database address the master sends.
SPEC_DATABASE_RESPONSE = b"".join(
    [
        b"SCBA\x0b\x00\x00\x00",
        NEW + s("database_response_message"),
        b"\x01",
        s("mysql"),
        s("sysop:sysop@localhost/seiscomp3"),
    ]
)


def test_spec_database_response_example():
    message = DatabaseProvideMessage(name="mysql", parameters="sysop:sysop@localhost/seiscomp3")
    assert binary.encode(message) == SPEC_DATABASE_RESPONSE
    assert binary.decode(SPEC_DATABASE_RESPONSE) == message


def _golden(shared_dir, pattern):
    files = sorted((shared_dir / "golden/sc3/payloads").glob(pattern))
    assert files, pattern
    return files


def test_every_captured_binary_body_round_trips(shared_dir):
    for path in _golden(shared_dir, "*.body.bin"):
        data = path.read_bytes()
        message = binary.decode(data, "Message")
        version, _ = binary.archive_version(data)
        assert version == Version(0, 11)
        assert binary.encode(message, version) == data, path.name


def test_every_captured_binary_payload_and_envelope_round_trips(shared_dir):
    for path in _golden(shared_dir, "*_BINARY_*.body.zlib"):
        data_field = path.read_bytes()
        message = decode_payload(data_field, 0)
        assert encode_payload(message) == data_field, path.name
        envelope = NetworkMessage.decode(
            path.with_name(path.name.replace(".body.zlib", ".netmsg.bin")).read_bytes()
        )
        assert envelope.content_type == 0 and envelope.data == data_field


def _decode(shared_dir, name):
    return binary.decode((shared_dir / "golden/sc3/payloads" / name).read_bytes())


def test_captured_pick_add_has_the_dispatched_values(shared_dir):
    message = _decode(shared_dir, "03_scdispatch_add_binary_m04_c2s_DATA_MSG_BINARY_PICK.body.bin")
    (notifier,) = message.attachments
    assert (notifier.parentID, notifier.operation) == ("EventParameters", Operation.OP_ADD)
    pick = notifier.object
    assert isinstance(pick, Pick) and pick.publicID == "Pick/20200101000010.000000.GOLDEN1"
    assert pick.time.value == Time(1577836810, 123456) and pick.time.uncertainty == 0.1
    assert pick.time.lowerUncertainty is None and pick.time.pdf is None
    waveform = pick.waveformID
    assert (waveform.networkCode, waveform.stationCode, waveform.locationCode, waveform.channelCode) == (
        "GE",
        "STA01",
        "",
        "BHZ",
    )
    assert (pick.filterID, pick.methodID) == ("BW(4,0.7,2)", "AIC")
    assert pick.phaseHint == Phase(code="P") and pick.evaluationMode is EvaluationMode.AUTOMATIC
    assert pick.creationInfo.agencyID == "TEST" and pick.creationInfo.author == "golden@localhost"
    assert pick.creationInfo.creationTime == Time(1577836812, 0)


def test_captured_origin_and_arrival(shared_dir):
    origin = _decode(shared_dir, "03_scdispatch_add_binary_m05_c2s_DATA_MSG_BINARY_LOCATION.body.bin")
    origin = origin.attachments[0].object
    assert isinstance(origin, Origin)
    assert origin.latitude.value == 52.38 and origin.depth.value == 10.0
    assert origin.depthType is OriginDepthType.OPERATOR_ASSIGNED
    assert origin.quality.usedPhaseCount == 1 and origin.quality.azimuthalGap == 300.0
    assert origin.evaluationStatus is EvaluationStatus.PRELIMINARY
    assert origin.children("arrival") == ()  # notifier objects carry no children
    message = _decode(shared_dir, "03_scdispatch_add_binary_m06_c2s_DATA_MSG_BINARY_LOCATION.body.bin")
    notifier = message.attachments[0]
    assert notifier.parentID == "Origin/20200101000005.000000.GOLDEN1"
    arrival = notifier.object
    assert isinstance(arrival, Arrival) and arrival.pickID == "Pick/20200101000010.000000.GOLDEN1"
    assert (arrival.azimuth, arrival.distance, arrival.timeResidual, arrival.weight) == (45.5, 0.3, 0.12, 1.0)
    assert arrival.takeOffAngle is None and arrival.phase.code == "P"


def test_captured_sync_and_update_messages(shared_dir):
    request = _decode(shared_dir, "03_scdispatch_add_binary_m07_c2s_DATA_MSG_BINARY_STATUS_GROUP.body.bin")
    response = _decode(
        shared_dir, "03_scdispatch_add_binary_m08_s2c_DATA_MSG_BINARY_scdisplocalhost.body.bin"
    )
    assert isinstance(request, SyncRequestMessage) and isinstance(response, SyncResponseMessage)
    assert request.id == response.id == "sync_scdispatch_2026-11-22T03:17:24.564657Z"
    update = _decode(shared_dir, "04_scdispatch_update_binary_m04_c2s_DATA_MSG_BINARY_LOCATION.body.bin")
    notifier = update.attachments[0]
    assert notifier.operation is Operation.OP_UPDATE
    assert notifier.object.quality is None and notifier.object.evaluationMode is EvaluationMode.MANUAL


def test_relayed_bodies_are_the_sent_bodies(shared_dir):
    sent = _golden(shared_dir, "03_*_c2s_DATA_MSG_BINARY_[PL]*.body.bin")
    relayed = _golden(shared_dir, "02_*_DATA_MSG_BINARY_*.body.bin")[:3]
    for a, b in zip(sent, relayed, strict=True):
        assert binary.decode(a.read_bytes()) == binary.decode(b.read_bytes())


def test_decode_checks_the_expected_class():
    with pytest.raises(ArchiveError, match="expected class Message"):
        binary.decode(binary.encode(Pick(publicID="x")), "Message")
    assert binary.decode(binary.encode(Pick(publicID="x")), Pick) == Pick(publicID="x")
