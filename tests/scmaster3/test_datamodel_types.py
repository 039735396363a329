"""Object types built from the description: construction, validation, equality, navigation, Time."""

import copy
import datetime as dt
import pickle

import pytest

from scmaster3 import datamodel
from scmaster3.datamodel import (
    CLASSES,
    ENUMS,
    MODEL,
    Arrival,
    Comment,
    CreationInfo,
    EvaluationMode,
    EventParameters,
    Notifier,
    NotifierMessage,
    Object,
    Operation,
    Origin,
    Pick,
    PublicObject,
    RealArray,
    RealQuantity,
    Stream,
    Time,
    TimeQuantity,
    WaveformStreamID,
)


def test_every_class_and_enumeration_is_a_type():
    for spec in MODEL.classes.values():
        cls = getattr(datamodel, spec.name)
        assert cls is CLASSES[spec.name] and cls.SPEC is spec
        if not spec.abstract:
            instance = cls()
            assert instance == cls()
            if spec.kind == "public":
                assert isinstance(instance, PublicObject)
            elif spec.kind == "object":
                assert isinstance(instance, Object) and not isinstance(instance, PublicObject)
    for name, spec in MODEL.enums.items():
        assert [member.value for member in ENUMS[name]] == list(spec.names)
    with pytest.raises(AttributeError):
        datamodel.NoSuchClass  # noqa: B018


def test_defaults_follow_seiscomp():
    pick = Pick()
    assert pick.publicID == "" and pick.filterID == ""
    assert pick.time == TimeQuantity() and pick.time.value == Time(0, 0)
    assert pick.horizontalSlowness is None and pick.onset is None
    assert pick.time is not Pick().time  # value members are never shared between instances
    assert RealArray().content == []
    assert EventParameters().publicID == "EventParameters"
    assert Notifier().operation is Operation.OP_UNDEFINED
    assert NotifierMessage().attachments == []


def test_keyword_construction_and_assignment_validate():
    pick = Pick(
        publicID="Pick/1", time=TimeQuantity(value=Time(10, 5), uncertainty=1), evaluationMode="manual"
    )
    assert pick.evaluationMode is EvaluationMode.MANUAL and pick.evaluationMode == "manual"
    assert pick.time.uncertainty == 1.0 and type(pick.time.uncertainty) is float
    with pytest.raises(TypeError, match="Pick.time: expected TimeQuantity"):
        pick.time = RealQuantity()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Pick(colour="red")
    with pytest.raises(AttributeError):
        pick.colour = "red"
    with pytest.raises(ValueError, match="unknown EvaluationMode name 'semi'"):
        pick.evaluationMode = "semi"
    with pytest.raises(TypeError):
        pick.evaluationMode = 1
    with pytest.raises(TypeError):
        pick.filterID = b"bytes"
    with pytest.raises(TypeError):
        Arrival(timeUsed=1)
    with pytest.raises(ValueError, match="32 bits"):
        datamodel.OriginQuality(usedPhaseCount=2**31)
    with pytest.raises(TypeError):
        datamodel.OriginQuality(usedPhaseCount=1.0)
    with pytest.raises(TypeError):
        TimeQuantity(value=dt.datetime(2020, 1, 1))
    with pytest.raises(TypeError):
        RealArray(content=["1"])
    assert RealArray(content=(1, 2.5)).content == [1.0, 2.5]
    pick.onset = None
    assert pick.onset is None
    with pytest.raises(TypeError):
        pick.time = None  # not optional
    with pytest.raises(TypeError, match="abstract"):
        Object()


def test_equality_covers_attributes_and_children_but_not_parents():
    a = Origin(publicID="O", time=TimeQuantity(value=Time(1, 0)))
    b = Origin(publicID="O", time=TimeQuantity(value=Time(1, 0)))
    assert a == b
    b.time.value = Time(1, 1)
    assert a != b
    b.time.value = Time(1, 0)
    a.add(Arrival(pickID="P"))
    assert a != b
    b.add(Arrival(pickID="P"))
    assert a == b
    assert Pick(publicID="x") != Origin(publicID="x")
    with pytest.raises(TypeError):
        hash(a)


def test_children_and_parent_navigation():
    origin = Origin(publicID="Origin/1")
    first, second = Arrival(pickID="P1"), Arrival(pickID="P2")
    comment = Comment(text="hi", id="c1")
    origin.add(first)
    origin.add(second)
    origin.add(comment)
    assert origin.children("arrival") == (first, second)
    assert first.parent is origin and comment.parent is origin
    assert [(spec.name, child) for spec, child in origin.iter_children()] == [
        ("comment", comment),
        ("arrival", first),
        ("arrival", second),
    ]
    assert first.index_key() == ("P1",)
    with pytest.raises(ValueError, match="already holds"):
        origin.add(Arrival(pickID="P1"))
    with pytest.raises(ValueError, match="already has a parent"):
        Origin().add(first)
    with pytest.raises(TypeError, match="cannot hold"):
        origin.add(Pick())
    origin.remove(first)
    assert first.parent is None and origin.children("arrival") == (second,)
    with pytest.raises(ValueError, match="not a child"):
        origin.remove(first)
    with pytest.raises(KeyError):
        origin.children("pick")


def test_public_children_are_unique_by_public_id():
    ep = EventParameters()
    ep.add(Pick(publicID="Pick/1"))
    with pytest.raises(ValueError, match="Pick/1"):
        ep.add(Pick(publicID="Pick/1"))
    ep.add(Origin(publicID="Pick/1"))  # another array


def test_messages_and_notifiers():
    pick = Pick(publicID="Pick/1")
    notifier = Notifier(parentID="EventParameters", operation="add", object=pick)
    message = NotifierMessage(attachments=[notifier])
    assert message.attachments[0].object is pick
    with pytest.raises(TypeError):
        Notifier(object=TimeQuantity())  # value classes are not objects
    with pytest.raises(TypeError):
        NotifierMessage(attachments=[pick])
    assert (
        datamodel.DatabaseProvideMessage(name="sqlite3", parameters="x").SPEC.rtti_name
        == "database_response_message"
    )
    assert isinstance(datamodel.SyncRequestMessage(), datamodel.Message)


def test_repr_shows_what_differs_from_defaults():
    text = repr(Pick(publicID="Pick/1", waveformID=WaveformStreamID(networkCode="GE")))
    assert text == "Pick(publicID='Pick/1', waveformID=WaveformStreamID(networkCode='GE'))"
    origin = Origin()
    origin.add(Arrival())
    assert "<1 arrival>" in repr(origin)


def test_objects_pickle_and_copy():
    origin = Origin(publicID="O", evaluationMode="manual", time=TimeQuantity(value=Time(1, 2)))
    origin.add(Arrival(pickID="P"))
    for clone in (pickle.loads(pickle.dumps(origin)), copy.deepcopy(origin)):
        assert clone == origin and clone is not origin
        assert clone.children("arrival")[0].parent is clone
    assert pickle.loads(pickle.dumps(EvaluationMode.MANUAL)) is EvaluationMode.MANUAL


def test_stream_is_public():
    assert issubclass(Stream, PublicObject)
    assert Stream.SPEC.public_id_since is not None


def test_time_keeps_seconds_and_microseconds_exactly():
    t = Time(1577836810, 123456)
    assert (t.seconds, t.microseconds) == (1577836810, 123456)
    assert t.to_datetime() == dt.datetime(2020, 1, 1, 0, 0, 10, 123456, tzinfo=dt.UTC)
    assert Time.from_datetime(dt.datetime(2020, 1, 1, 0, 0, 10, 123456)) == t
    assert Time.from_datetime(dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC)) == Time(
        -1, 500000
    )
    assert Time(0, 1_500_000) != Time(1, 500_000)
    assert Time(0, 1_500_000).normalized() == Time(1, 500_000)
    assert Time(1, 0) < Time(1, 1) and Time(0, 2_000_000) > Time(1, 0)
    assert Time(1, 2) != (1, 2) and hash(Time(1, 2)) == hash(Time(1, 2))
    assert pickle.loads(pickle.dumps(t)) == t
    with pytest.raises(ValueError):
        Time(2**31)
    with pytest.raises(TypeError):
        Time(1.5)
    with pytest.raises(AttributeError):
        t.seconds = 3


def test_creation_info_times_are_optional():
    info = CreationInfo(agencyID="TEST", creationTime=Time(5, 0))
    assert info.modificationTime is None and info.creationTime == Time(5, 0)
