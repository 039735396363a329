"""Random objects of every class through the binary archive, at every layout version."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scmaster3.datamodel import (
    MODEL,
    CreationInfo,
    DatabaseRequestMessage,
    DataMessage,
    Notifier,
    NotifierMessage,
    Object,
    Time,
    Version,
)
from scmaster3.io import ArchiveError, binary
from tests.scmaster3.test_datamodel_strategies import (
    LAYOUT_VERSIONS,
    expected_after_archive,
    messages_of_every_kind,
    objects,
)

VERSIONS = st.sampled_from(LAYOUT_VERSIONS)
SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("class_name", [c.name for c in MODEL.datamodel_classes()])
@SETTINGS
@given(data=st.data())
def test_data_message_round_trip(class_name, data):
    obj = data.draw(objects(class_name, 2))
    version = data.draw(VERSIONS)
    archive = binary.encode(DataMessage(attachments=[obj]), version)
    decoded = binary.decode(archive)
    assert decoded == DataMessage(attachments=[expected_after_archive(obj, version)])
    assert binary.encode(decoded, version) == archive
    for spec, child in decoded.attachments[0].iter_children() if isinstance(obj, Object) else ():
        assert child.parent is decoded.attachments[0] and type(child).__name__ == spec.class_name


OBJECT_CLASSES = [c.name for c in MODEL.datamodel_classes() if c.kind in ("public", "object")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.text(max_size=5), st.sampled_from(["add", "remove", "update"]), st.sampled_from(OBJECT_CLASSES)
        ),
        min_size=1,
        max_size=4,
    ).flatmap(lambda items: st.tuples(st.just(items), st.tuples(*(objects(c, 1) for _, _, c in items)))),
    VERSIONS,
)
def test_notifier_message_round_trip_drops_children(items, version):
    specs, objs = items
    message = NotifierMessage(
        attachments=[
            Notifier(parentID=parent, operation=op, object=obj)
            for (parent, op, _), obj in zip(specs, objs, strict=True)
        ]
    )
    archive = binary.encode(message, version)
    decoded = binary.decode(archive, "Message")
    for notifier, original in zip(decoded.attachments, message.attachments, strict=True):
        assert notifier.parentID == original.parentID and notifier.operation == original.operation
        assert notifier.object == expected_after_archive(original.object, version, children=False)
    assert binary.encode(decoded, version) == archive


@SETTINGS
@given(objects("CreationInfo", 0), st.booleans(), st.text(max_size=5), VERSIONS)
def test_other_messages_round_trip(info, finished, text, version):
    for message in messages_of_every_kind(info, finished, text):
        archive = binary.encode(message, version)
        assert binary.decode(archive, "Message") == message
        assert binary.encode(binary.decode(archive), version) == archive


def test_versions_newer_than_the_schema():
    newer = Version(0, 12)
    sync = DatabaseRequestMessage(name="x")
    assert binary.decode(binary.encode(sync, newer)) == sync  # messages have no version gate
    with pytest.raises(ArchiveError, match="newer than 0.11"):
        binary.encode(DataMessage(attachments=[CreationInfo()]), newer)
    archive = bytearray(binary.encode(DataMessage(attachments=[CreationInfo(creationTime=Time(1, 2))])))
    archive[4:8] = newer.packed.to_bytes(4, "little")
    with pytest.raises(ArchiveError, match="newer than 0.11") as info:
        binary.decode(bytes(archive))
    assert info.value.path == [("DataMessage", "attachments")]


def test_versions_given_as_text_packed_or_default():
    message = DatabaseRequestMessage(name="x")
    assert binary.encode(message, "0.11") == binary.encode(message, 0x0B) == binary.encode(message, None)
    assert binary.encode(message, -1) == binary.encode(message)
    assert binary.encode(message, 0)[:4] != b"SCBA"


def test_cyclic_objects_are_an_error_not_a_crash():
    message = DataMessage()
    message.attachments.append(message)
    with pytest.raises(ArchiveError, match="cyclic"):
        binary.encode(message)


def test_unencodable_values_name_the_member():
    message = DataMessage(attachments=[CreationInfo(agencyID="\ud800")])
    with pytest.raises(ArchiveError) as info:
        binary.encode(message)
    assert info.value.path == [("DataMessage", "attachments"), ("CreationInfo", "agencyID")]
    with pytest.raises(ArchiveError):
        binary.encode("not an object")
