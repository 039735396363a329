"""Random objects of every class through the XML archive, validated against SeisComP3's XSDs.

Values are drawn from what XML carries exactly: strings of XML characters, doubles that
survive 10 significant digits, normalised non-zero times (XML writes an instant, and leaves a
zero time out). Every document written at 0.11 or 0.10 is validated with lxml against
``sc3ml_0.11.xsd`` / ``sc3ml_0.10.xsd``: documents of a root class (EventParameters...) as
they are; the ``seiscomp`` element of the XSDs admits nothing else, so messages and other
objects are validated element by element against a schema that includes the real one and only
adds global elements for the message wrappers and each class's own complex type.
"""

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from scmaster3.datamodel import (
    ENUMS,
    MODEL,
    DataMessage,
    EventParameters,
    Notifier,
    NotifierMessage,
    Origin,
    Time,
    Version,
)
from scmaster3.io import xml
from tests.conftest import SHARED
from tests.scmaster3.test_datamodel_strategies import (
    LAYOUT_VERSIONS,
    expected_after_archive,
    messages_of_every_kind,
    object_strategies,
)

V011, V010 = Version(0, 11), Version(0, 10)
XSD_VERSIONS = (V011, V010)
NEW_IN_011 = {"DataAvailability", "DataExtent", "DataSegment", "DataAttributeExtent"}
DATAMODEL_CLASSES = [c.name for c in MODEL.datamodel_classes()]
OBJECT_CLASSES = [c.name for c in MODEL.datamodel_classes() if c.kind in ("public", "object")]
SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _xml_char(c: str) -> bool:
    code = ord(c)
    return c in "\t\n\r" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


TEXT = st.text(st.characters(exclude_categories=("Cs",)).filter(_xml_char), max_size=6)
INT32 = st.integers(-(2**31), 2**31 - 1)
DOUBLES = st.floats(-1e300, 1e300, allow_nan=False).map(lambda x: float(f"{x:.10g}"))
TIMES = st.builds(Time, INT32, st.integers(0, 999_999)).filter(lambda t: t != Time(0, 0))

PRIMITIVES = {
    "string": TEXT,
    "int": INT32,
    "double": DOUBLES,
    "bool": st.booleans(),
    "time": TIMES,
    "double_array": st.lists(DOUBLES, max_size=3),
    "complex_array": st.lists(st.builds(complex, DOUBLES, DOUBLES), max_size=3),
    "time_array": st.lists(TIMES, max_size=3),
}


# SeisComP3 leaves an empty publicID out, which the XSD does not allow.
objects = object_strategies(PRIMITIVES, TEXT.filter(bool))


# ---------------------------------------------------------------------------------------------
# Schemas


def _xsd_path(version: Version):
    return SHARED / "reference" / "sc3" / f"sc3ml_{version}.xsd"


@cache
def sc3ml_schema(version: Version) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_xsd_path(version))))


@cache
def element_schema(version: Version) -> etree.XMLSchema:
    """The real XSD plus global elements: one per class (its own type) and the message wrappers."""
    ns = xml.namespace(version)
    classes = [c for c in DATAMODEL_CLASSES if version >= V011 or c not in NEW_IN_011]
    globals_ = "".join(f'<xs:element name="{c}" type="scs:{c}"/>' for c in classes)
    any_class = "".join(f'<xs:element ref="scs:{c}"/>' for c in classes)
    operations = "".join(f'<xs:enumeration value="{op.value}"/>' for op in ENUMS["Operation"])
    source = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:scs="{ns}"
        targetNamespace="{ns}" elementFormDefault="qualified" attributeFormDefault="unqualified">
      <xs:include schemaLocation="{_xsd_path(version).as_uri()}"/>
      {globals_}
      <xs:element name="notifier_message"><xs:complexType><xs:sequence>
        <xs:element name="notifier" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
          <xs:choice minOccurs="0">{any_class}</xs:choice>
          <xs:attribute name="parentID" type="xs:string"/>
          <xs:attribute name="operation" use="required"><xs:simpleType>
            <xs:restriction base="xs:string">{operations}</xs:restriction>
          </xs:simpleType></xs:attribute>
        </xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="data_message"><xs:complexType>
        <xs:choice minOccurs="0" maxOccurs="unbounded">{any_class}</xs:choice>
      </xs:complexType></xs:element>
    </xs:schema>"""
    return etree.XMLSchema(etree.fromstring(source.encode()))


def check_document(data: bytes, version: Version) -> None:
    """The root as SeisComP3 writes it, and its content valid against the version's XSD."""
    root = etree.fromstring(data)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<seiscomp xmlns=')
    assert root.tag == f"{{{xml.namespace(version)}}}seiscomp"
    assert root.get("version") == (None if version == Version(0, 0) else str(version))
    if version not in XSD_VERSIONS:
        return
    (content,) = root
    if etree.QName(content).localname in {c.name for c in MODEL.classes.values() if c.root}:
        sc3ml_schema(version).assertValid(root)
    else:
        element_schema(version).assertValid(content)


def test_the_schemas_reject_what_they_should(shared_dir):
    """The validation above is not vacuous: wrong documents fail it."""
    ep = EventParameters()
    ep.add(Origin(publicID="o"))
    good = xml.encode(ep)
    sc3ml_schema(V011).assertValid(etree.fromstring(good))
    for bad in (
        good.replace(b"<origin ", b"<origin><bogus/></origin><origin "),
        good.replace(b'publicID="o"', b""),
        good.replace(b"<value>", b"<value>x"),
    ):
        with pytest.raises(etree.DocumentInvalid):
            sc3ml_schema(V011).assertValid(etree.fromstring(bad))
    message = xml.encode(
        NotifierMessage(attachments=[Notifier(parentID="p", operation="add", object=Origin(publicID="o"))])
    )
    element_schema(V011).assertValid(etree.fromstring(message)[0])
    with pytest.raises(etree.DocumentInvalid):
        element_schema(V011).assertValid(etree.fromstring(message.replace(b'"add"', b'"bad"'))[0])


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("class_name", DATAMODEL_CLASSES)
@SETTINGS
@given(data=st.data())
def test_every_class_round_trips_and_validates(class_name, data):
    obj = data.draw(objects(class_name, 2))
    version = data.draw(st.sampled_from(XSD_VERSIONS) | st.sampled_from(LAYOUT_VERSIONS))
    expected = expected_after_archive(obj, version)

    message = xml.encode(DataMessage(attachments=[obj]), version)
    decoded = xml.decode(message)
    assert decoded == DataMessage(attachments=[expected])
    assert xml.encode(decoded, version) == message

    document = xml.encode(obj, version)
    alone = xml.decode(document)
    assert alone == expected
    for spec, child in alone.iter_children() if hasattr(alone, "iter_children") else ():
        assert child.parent is alone and type(child).__name__ == spec.class_name

    if version in XSD_VERSIONS and not (version < V011 and class_name in NEW_IN_011):
        check_document(message, version)
        check_document(document, version)


@pytest.mark.parametrize("class_name", [c.name for c in MODEL.datamodel_classes() if c.root])
@SETTINGS
@given(data=st.data())
def test_root_documents_validate_against_the_plain_schema(class_name, data):
    obj = data.draw(objects(class_name, 3))
    version = data.draw(st.sampled_from(XSD_VERSIONS))
    if version < V011 and class_name == "DataAvailability":
        version = V011
    document = xml.encode(obj, version, formatted=data.draw(st.booleans()))
    sc3ml_schema(version).assertValid(etree.fromstring(document))
    assert xml.decode(document) == expected_after_archive(obj, version)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(TEXT, st.sampled_from(list(ENUMS["Operation"])), st.sampled_from(OBJECT_CLASSES)),
        min_size=1,
        max_size=4,
    ).flatmap(lambda items: st.tuples(st.just(items), st.tuples(*(objects(c, 1) for _, _, c in items)))),
    st.sampled_from(XSD_VERSIONS) | st.sampled_from(LAYOUT_VERSIONS),
)
def test_notifier_messages_round_trip_without_children_and_validate(items, version):
    specs, objs = items
    message = NotifierMessage(
        attachments=[
            Notifier(parentID=parent, operation=op, object=obj)
            for (parent, op, _), obj in zip(specs, objs, strict=True)
        ]
    )
    if version < V011 and any(type(o).__name__ in NEW_IN_011 for o in objs):
        version = V011
    data = xml.encode(message, version)
    decoded = xml.decode(data, "Message")
    assert len(decoded.attachments) == len(message.attachments)
    for notifier, original in zip(decoded.attachments, message.attachments, strict=True):
        assert notifier.parentID == original.parentID and notifier.operation == original.operation
        assert notifier.object == expected_after_archive(original.object, version, children=False)
    assert xml.encode(decoded, version) == data
    check_document(data, version)


@SETTINGS
@given(objects("CreationInfo", 0), st.booleans(), TEXT, st.sampled_from(XSD_VERSIONS))
def test_other_messages_round_trip(info, finished, text, version):
    for message in messages_of_every_kind(info, finished, text):
        data = xml.encode(message, version)
        assert xml.decode(data, "Message") == message
        assert xml.decode(data, type(message)) == message
        assert xml.encode(xml.decode(data), version) == data


@SETTINGS
@given(st.sampled_from(["Origin", "Inventory", "Pick"]).flatmap(lambda c: objects(c, 2)), st.integers(0, 4))
def test_formatted_output_reads_back_the_same(obj, indent):
    plain = xml.encode(obj)
    pretty = xml.encode(obj, formatted=True, indent=indent)
    assert xml.decode(pretty) == xml.decode(plain) == expected_after_archive(obj, V011)
    if indent:
        assert b"\n" + b" " * indent + b"<" in pretty
    check_document(pretty, V011)


@SETTINGS
@given(st.sampled_from(["Origin", "Stream", "Comment"]).flatmap(lambda c: objects(c, 1)))
def test_imported_xml_is_read_as_version_0_0(obj):
    message = DataMessage(attachments=[obj])
    data = xml.encode_imported(message)
    root = etree.fromstring(data)
    assert root.tag == f"{{{xml.namespace(V011)}}}data_message" and root.get("version") == "0.11"
    assert xml.decode_imported(data) == DataMessage(attachments=[expected_after_archive(obj, Version(0, 0))])
