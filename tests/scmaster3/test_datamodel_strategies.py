"""Hypothesis strategies for random objects of every description class, and their own checks.

Other archive tests import ``objects`` (or make their own with ``object_strategies``),
``messages_of_every_kind``, ``expected_after_archive`` and ``LAYOUT_VERSIONS`` from here;
everything is derived from the description, independently of any codec.
"""

from collections.abc import Callable
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scmaster3.datamodel import (
    CLASSES,
    ENUMS,
    MODEL,
    ApplicationStatusMessage,
    ArtificialEventParametersMessage,
    ArtificialOriginMessage,
    ConfigSyncMessage,
    DatabaseProvideMessage,
    DatabaseRequestMessage,
    DataMessage,
    EventParameters,
    InventorySyncMessage,
    Notifier,
    NotifierMessage,
    Origin,
    SyncRequestMessage,
    SyncResponseMessage,
    Time,
    Version,
)
from scmaster3.datamodel.description import AttributeSpec

INT32 = st.integers(-(2**31), 2**31 - 1)
TIMES = st.builds(Time, INT32, INT32)
TEXT = st.text(max_size=6)

# Every version at which some member appears, the unversioned 0.0 and one in between.
LAYOUT_VERSIONS = sorted(
    {Version(0, 0), Version(0, 5), Version(0, 11)}
    | {a.since for c in MODEL.classes.values() for a in c.attributes if a.since}
    | {ch.since for c in MODEL.classes.values() for ch in c.children if ch.since}
)

_PRIMITIVES = {
    "string": TEXT,
    "int": INT32,
    "double": st.floats(allow_nan=False),
    "bool": st.booleans(),
    "time": TIMES,
    "double_array": st.lists(st.floats(allow_nan=False), max_size=3),
    "complex_array": st.lists(st.complex_numbers(allow_nan=False), max_size=3),
    "time_array": st.lists(TIMES, max_size=3),
}


def object_strategies(
    primitives: dict[str, st.SearchStrategy], public_ids: st.SearchStrategy
) -> Callable[[str, int], st.SearchStrategy]:
    """``objects(class_name, depth)``: random instances of a data-model class with primitive
    values from ``primitives`` (by type) and publicIDs from ``public_ids``, children down to
    ``depth`` levels."""

    def value(attr: AttributeSpec) -> st.SearchStrategy:
        if attr.category == "primitive":
            inner = primitives[attr.type]
        elif attr.category == "enum":
            inner = st.sampled_from(list(ENUMS[attr.type]))
        else:
            inner = objects(attr.type, 0)
        return st.none() | inner if attr.optional else inner

    @cache
    def objects(class_name: str, depth: int = 1) -> st.SearchStrategy:
        spec = MODEL.classes[class_name]
        fields = {a.attr: value(a) for a in spec.attributes}
        if spec.has_public_id and not spec.root:
            fields["publicID"] = public_ids
        cls = CLASSES[class_name]
        children = (
            st.tuples(*(st.lists(objects(c.class_name, depth - 1), max_size=2) for c in spec.children))
            if depth > 0 and spec.children
            else st.just(())
        )

        def build(values: dict, child_lists: tuple) -> object:
            obj = cls(**values)
            for child_list in child_lists:
                for child in child_list:
                    try:
                        obj.add(child)
                    except ValueError:
                        pass  # same publicID or index as a sibling: SeisComP3 refuses it too
            return obj

        return st.builds(build, st.fixed_dictionaries(fields), children)

    return objects


objects = object_strategies(_PRIMITIVES, TEXT)


def messages_of_every_kind(info: object, finished: bool, text: str) -> list[object]:
    """One or more messages of every message class, built around ``info`` (a CreationInfo),
    ``finished`` and ``text``, including absent and nested members."""
    ep = EventParameters()
    ep.add(Origin(publicID=text + "x"))
    return [
        ConfigSyncMessage(isFinished=finished, creationInfo=info),
        InventorySyncMessage(isFinished=finished),
        ArtificialOriginMessage(origin=Origin(publicID=text)),
        ArtificialOriginMessage(),
        ArtificialEventParametersMessage(eventParameters=ep),
        ArtificialEventParametersMessage(),
        DatabaseRequestMessage(name=text),
        DatabaseProvideMessage(name=text, parameters=text + "p"),
        SyncRequestMessage(id=text),
        SyncResponseMessage(id=text),
        ApplicationStatusMessage(module=text, username="u", status="finished"),
        NotifierMessage(attachments=[Notifier(parentID=text, operation="update")]),
        DataMessage(
            attachments=[DataMessage(attachments=[info]), NotifierMessage(), Origin(publicID=text), info]
        ),
    ]


def expected_after_archive(obj: object, version: Version, children: bool = True) -> object:
    """What an archive of ``version`` keeps of ``obj``: newer members at their defaults."""
    cls = type(obj)
    spec = cls.SPEC
    copy = cls()
    d = copy.__dict__
    if spec.has_public_id and spec.writes_public_id(version):
        d["publicID"] = obj.publicID
    for attr in spec.attributes_in(version):
        value = obj.__dict__[attr.attr]
        if attr.category == "complex" and value is not None:
            value = expected_after_archive(value, version)
        elif attr.is_array:
            value = list(value)
        d[attr.attr] = value
    if children:
        for child_spec in spec.children_in(version):
            for child in obj.children(child_spec.name):
                copy.add(expected_after_archive(child, version))
    return copy


DATAMODEL_CLASSES = [c.name for c in MODEL.datamodel_classes()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DATAMODEL_CLASSES).flatmap(lambda name: objects(name, 2)))
def test_strategies_build_valid_objects_that_equal_themselves(obj):
    assert obj == expected_after_archive(obj, Version(0, 11))
    for spec, child in getattr(obj, "iter_children", lambda: ())():
        assert child.parent is obj and type(child).__name__ == spec.class_name


def test_layout_versions_cover_every_gate():
    assert LAYOUT_VERSIONS[0] == Version(0, 0) and LAYOUT_VERSIONS[-1] == Version(0, 11)
    assert Version(0, 10) in LAYOUT_VERSIONS and Version(0, 6) in LAYOUT_VERSIONS


def test_messages_of_every_kind_cover_every_message_class():
    kinds = {type(m).__name__ for m in messages_of_every_kind(CLASSES["CreationInfo"](), True, "t")}
    assert kinds == {c.name for c in MODEL.message_classes() if c.kind == "message"}
