"""The rules of the XML archive one by one: text forms, placement of members, versions,
what the reader accepts and skips, and the errors it raises."""

import zlib

import pytest
from lxml import etree

from scmaster3.datamodel import (
    Arrival,
    ArtificialOriginMessage,
    Comment,
    ComplexArray,
    CreationInfo,
    DataMessage,
    EventParameters,
    Notifier,
    NotifierMessage,
    Origin,
    Phase,
    Pick,
    RealArray,
    StationMagnitude,
    Stream,
    SyncRequestMessage,
    Time,
    TimeArray,
    TimeQuantity,
    Version,
    WaveformStreamID,
)
from scmaster3.io import ArchiveError, binary, xml
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.protocol import ContentType

NS = "http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/0.11"
HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<seiscomp xmlns="{NS}" version="0.11">'


def body(data: bytes) -> str:
    """The document between the root tags."""
    text = data.decode()
    assert text.startswith(HEAD) and text.endswith("</seiscomp>\n")
    return text[len(HEAD) : -len("</seiscomp>\n")]


def doc(content: str, version: str = ' version="0.11"', ns: str = NS) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<seiscomp xmlns="{ns}"{version}>{content}</seiscomp>'.encode()


# ---------------------------------------------------------------------------------------------
# Text forms


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (52.38, "52.38"),
        (10.0, "10"),
        (0.1 + 0.2, "0.3"),
        (1 / 3, "0.3333333333"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-07"),
        (123456789012.0, "1.23456789e+11"),
        (-0.0, "-0"),
        (float("inf"), "inf"),
    ],
)
def test_doubles_have_ten_significant_digits(value, text):
    assert xml.format_double(value) == text
    assert xml.parse_double(text) == float(f"{value:.10g}")


@pytest.mark.parametrize(
    ("time", "text"),
    [
        (Time(1577836805, 500000), "2020-01-01T00:00:05.5Z"),
        (Time(1577836812, 0), "2020-01-01T00:00:12.0000Z"),
        (Time(1577836810, 123456), "2020-01-01T00:00:10.123456Z"),
        (Time(1795317450, 813400), "2026-11-22T03:17:30.8134Z"),
        (Time(1577836800, 1), "2020-01-01T00:00:00.000001Z"),
        (Time(-1, 0), "1969-12-31T23:59:59.0000Z"),
        (Time(-(2**31), 0), "1901-12-13T20:45:52.0000Z"),
        (Time(2**31 - 1, 999999), "2038-01-19T03:14:07.999999Z"),
    ],
)
def test_times_strip_trailing_zeros_but_write_0000_for_whole_seconds(time, text):
    assert xml.format_time(time) == text
    assert xml.parse_time(text) == time


def test_unnormalised_times_are_written_as_the_instant():
    assert xml.format_time(Time(0, 1_500_000)) == "1970-01-01T00:00:01.5Z"
    assert xml.format_time(Time(10, -1)) == "1970-01-01T00:00:09.999999Z"


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("2020-01-01T00:00:12Z", Time(1577836812, 0)),
        ("2020-01-01T00:00:12.000000Z", Time(1577836812, 0)),
        ("2020-01-01T00:00:12.5Z", Time(1577836812, 500000)),
        ("2020-01-01T00:00:12.1234567Z", Time(1577836812, 123456)),
        (" 2020-01-01T00:00:12Z\n", Time(1577836812, 0)),
    ],
)
def test_time_reading_accepts_both_formats(text, time):
    assert xml.parse_time(text) == time


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2020-01-01T00:00:12",
        "2020-01-01 00:00:12Z",
        "2020-13-01T00:00:12Z",
        "2020-01-01T24:00:00Z",
        "2020-1-1T0:0:0Z",
    ],
)
def test_time_reading_rejects_other_forms(text):
    with pytest.raises(ValueError):
        xml.parse_time(text)


@pytest.mark.parametrize("text", ["", " ", "1_0", "0x10", "1.2.3", "1e", "--1", "one"])
def test_double_reading_rejects_non_numbers(text):
    with pytest.raises(ValueError):
        xml.parse_double(text)


@pytest.mark.parametrize(
    "text",
    [
        "1" * 200_000 + "x",
        "1" * 100_000 + "." + "1" * 100_000 + "e",
        "." + "1" * 200_000 + "x",
        "1e+" + "1" * 200_000 + "z",
        " " * 200_000 + "x",
    ],
)
def test_long_malformed_numbers_are_refused_in_one_pass(text):
    # A pattern that backtracks over the digits would take hours on these, not microseconds.
    with pytest.raises(ValueError):
        xml.parse_double(text)
    document = doc(
        f'<Pick publicID="p"><time><value>2020-01-01T00:00:00Z</value><uncertainty>{text}</uncertainty></time></Pick>'
    )
    with pytest.raises(ArchiveError, match="not a number"):
        xml.decode(document)


@pytest.mark.parametrize(
    ("text", "value"), [(" 1.5 ", 1.5), ("5.", 5.0), (".5", 0.5), ("1E3", 1000.0), ("-inf", -float("inf"))]
)
def test_double_reading_accepts_c_forms(text, value):
    assert xml.parse_double(text) == value


def test_arrays_are_space_separated_and_complex_numbers_parenthesised():
    obj = DataMessage(
        attachments=[
            RealArray(content=[1.0, 0.5, -2e-9]),
            ComplexArray(content=[complex(1, -2), complex(0.5, 3e20)]),
            TimeArray(content=[Time(0, 0), Time(1577836805, 500000)]),
        ]
    )
    data = xml.encode(obj)
    assert (
        "<RealArray>1 0.5 -2e-09</RealArray><ComplexArray>(1,-2) (0.5,3e+20)</ComplexArray>"
        "<TimeArray>1970-01-01T00:00:00.0000Z 2020-01-01T00:00:05.5Z</TimeArray>"
    ) in body(data)
    assert xml.decode(data) == obj
    spaced = data.replace(b"(1,-2) (0.5,3e+20)", b"\n( 1 , -2 )(0.5,3e+20) ")
    assert xml.decode(spaced) == obj


# ---------------------------------------------------------------------------------------------
# Where members go


def test_spec_comment_notifier_example():
    # sc3-datamodel.md 4.4: the Comment notifier of the binary example in 3.7, in XML.
    message = NotifierMessage(
        attachments=[Notifier(parentID="Origin/1", operation="add", object=Comment(text="hi", id="c1"))]
    )
    data = xml.encode(message)
    assert body(data) == (
        '<notifier_message><notifier parentID="Origin/1" operation="add">'
        "<Comment><text>hi</text><id>c1</id></Comment></notifier></notifier_message>"
    )
    assert xml.decode(data) == message
    assert xml.encode(message, formatted=True).decode().splitlines()[2:6] == [
        "  <notifier_message>",
        '    <notifier parentID="Origin/1" operation="add">',
        "      <Comment>",
        "        <text>hi</text>",
    ]


def test_pick_notifier_as_scdispatch_writes_it():
    pick = Pick(
        publicID="Pick/1",
        time=TimeQuantity(value=Time(1577836810, 123456), uncertainty=0.1),
        waveformID=WaveformStreamID(networkCode="GE", stationCode="STA01", channelCode="BHZ"),
        phaseHint=Phase(code="P"),
        evaluationMode="automatic",
    )
    message = NotifierMessage(
        attachments=[Notifier(parentID="EventParameters", operation="add", object=pick)]
    )
    assert body(xml.encode(message)) == (
        '<notifier_message><notifier parentID="EventParameters" operation="add">'
        '<Pick publicID="Pick/1"><time><value>2020-01-01T00:00:10.123456Z</value><uncertainty>0.1</uncertainty>'
        '</time><waveformID networkCode="GE" stationCode="STA01" channelCode="BHZ"/><phaseHint>P</phaseHint>'
        "<evaluationMode>automatic</evaluationMode></Pick></notifier></notifier_message>"
    )


def test_empty_and_zero_values_are_left_out_unless_mandatory():
    arrival = Arrival(preliminary=False, creationInfo=CreationInfo(creationTime=Time(0, 0)))
    comment = Comment()
    wid = WaveformStreamID()
    text = body(xml.encode(DataMessage(attachments=[arrival, comment, wid])))
    # Arrival.pickID (mandatory element), Phase.code (mandatory text, empty: nothing),
    # preliminary (an attribute), an empty creationInfo whose zero time is left out.
    assert '<Arrival preliminary="false"><pickID/><phase/><creationInfo/></Arrival>' in text
    # Comment.text is mandatory, Comment.id is not.
    assert "<Comment><text/></Comment>" in text
    # networkCode and stationCode are mandatory attributes, the others are not.
    assert '<WaveformStreamID networkCode="" stationCode=""/>' in text
    decoded = xml.decode(xml.encode(DataMessage(attachments=[arrival])))
    # SeisComP3 does not write a zero optional time, so it comes back absent.
    assert decoded.attachments[0].creationInfo.creationTime is None


def test_mandatory_times_are_written_even_when_zero():
    text = body(xml.encode(Pick(publicID="p")))
    assert "<time><value>1970-01-01T00:00:00.0000Z</value></time>" in text


def test_special_characters_are_escaped_and_read_back():
    value = "a&b<c>\"d'\te\nf\rg"
    pick = Pick(publicID=value, filterID=value, waveformID=WaveformStreamID(networkCode=value))
    data = xml.encode(pick)
    assert b'publicID="a&amp;b&lt;c&gt;&quot;d\'&#9;e&#10;f&#13;g"' in data
    assert b"<filterID>a&amp;b&lt;c&gt;\"d'\te\nf&#13;g</filterID>" in data
    decoded = xml.decode(data)
    assert decoded.publicID == decoded.filterID == decoded.waveformID.networkCode == value


def test_non_ascii_text_is_written_as_utf8():
    data = xml.encode(Comment(text="Erdbeben südlich von Köln ✓ 𝄞"))
    assert "Erdbeben südlich von Köln ✓ 𝄞".encode() in data
    assert xml.decode(data).text == "Erdbeben südlich von Köln ✓ 𝄞"


def test_polymorphic_members_carry_their_role():
    message = ArtificialOriginMessage(origin=Origin(publicID="o"))
    assert body(xml.encode(message)).startswith(
        '<artificial_origin_message><Origin role="origin" publicID="o">'
    )
    assert xml.decode(xml.encode(message)) == message


def test_notifier_objects_are_written_without_children_and_data_messages_with_them():
    origin = Origin(publicID="o")
    origin.add(Arrival(pickID="p"))
    notifier_text = body(xml.encode(NotifierMessage(attachments=[Notifier(operation="add", object=origin)])))
    assert "arrival" not in notifier_text
    data_text = body(xml.encode(DataMessage(attachments=[origin])))
    assert "<arrival><pickID>p</pickID>" in data_text


def test_formatted_output_indents_like_libxml2():
    ep = EventParameters()
    ep.add(Pick(publicID="p", phaseHint=Phase(code="P")))
    text = xml.encode(ep, formatted=True).decode()
    assert text.splitlines()[2:5] == ["  <EventParameters>", '    <pick publicID="p">', "      <time>"]
    assert "      <phaseHint>P</phaseHint>\n" in text
    assert xml.encode(ep, formatted=True, indent=4).decode().splitlines()[3] == '        <pick publicID="p">'
    with pytest.raises(ValueError):
        xml.encode(ep, formatted=True, indent=-1)


# ---------------------------------------------------------------------------------------------
# Versions


def test_version_0_0_has_no_version_attribute_and_no_versioned_members():
    comment = Comment(text="t", start=Time(5, 0))
    data = xml.encode(comment, Version(0, 0))
    assert data.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<seiscomp xmlns="http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/0.0"><Comment>'
    )
    assert b"<start>" not in data
    assert xml.decode_document(data) == (Comment(text="t"), Version(0, 0))


def test_older_versions_leave_out_newer_members():
    assert b"publicID" not in xml.encode(Stream(publicID="s"), "0.9")
    assert b'publicID="s"' in xml.encode(Stream(publicID="s"), "0.10")
    magnitude = StationMagnitude(publicID="m", passedQC=True)
    assert b"passedQC" not in xml.encode(magnitude, "0.10")
    assert b"<passedQC>true</passedQC>" in xml.encode(magnitude, "0.11")
    # Reading a 0.10 document ignores a member it should not have.
    newer = xml.encode(magnitude, "0.11").replace(b'version="0.11"', b'version="0.10"')
    assert xml.decode(newer).passedQC is None


def test_version_attribute_forms():
    comment = b"<Comment><text>t</text><start>2020-01-01T00:00:00Z</start></Comment>"
    assert xml.decode_document(doc('<sync_request_message id="x"/>', ' version="1"'))[1] == Version(1, 0)
    assert xml.decode_document(doc(comment.decode(), ' version="0.10"'))[0].start == Time(1577836800, 0)
    assert xml.decode_document(doc(comment.decode(), ""))[0].start is None
    with pytest.raises(ArchiveError, match="invalid version"):
        xml.decode(doc(comment.decode(), ' version="zero"'))


def test_versions_newer_than_0_11_carry_no_data_model_objects():
    with pytest.raises(ArchiveError, match="newer than 0.11"):
        xml.encode(Pick(), "0.12")
    with pytest.raises(ArchiveError, match="newer than 0.11"):
        xml.decode(doc('<Pick publicID="p"/>', ' version="0.12"'))
    # Messages of the messaging layer are not versioned.
    assert xml.decode(doc('<sync_request_message id="x"/>', ' version="0.12"')) == SyncRequestMessage(id="x")


# ---------------------------------------------------------------------------------------------
# What the reader accepts and skips


PICK = (
    '<Pick publicID="p"><time><value>2020-01-01T00:00:00Z</value></time>'
    '<waveformID networkCode="GE" stationCode="S"/></Pick>'
)


def test_the_namespace_is_not_checked():
    expected = xml.decode(doc(PICK))
    assert xml.decode(doc(PICK, ns="urn:other")) == expected
    plain = f'<seiscomp version="0.11">{PICK}</seiscomp>'.encode()
    assert xml.decode(plain) == expected
    prefixed = f'<sc:seiscomp xmlns:sc="{NS}" version="0.11">{PICK.replace("<", "<sc:").replace("<sc:/", "</sc:")}</sc:seiscomp>'
    assert xml.decode(prefixed.encode()) == expected


def test_a_root_not_named_seiscomp_is_the_object_itself_at_version_0_0():
    data = f'<Comment xmlns="{NS}" version="0.11"><text>t</text><start>2020-01-01T00:00:00Z</start></Comment>'
    assert xml.decode_document(data.encode()) == (Comment(text="t"), Version(0, 0))


def test_unknown_elements_and_attributes_are_skipped():
    noisy = PICK.replace("<time>", '<extra a="1"><value>x</value></extra><time flavour="x">').replace(
        '<Pick publicID="p">', '<Pick publicID="p" colour="red"><!-- note --><?pi x?>'
    )
    assert xml.decode(doc(noisy)) == xml.decode(doc(PICK))


def test_the_first_element_of_a_name_wins_and_role_elements_are_not_members():
    data = doc(
        '<Pick publicID="p"><time role="other"><value>1999-01-01T00:00:00Z</value></time>'
        "<time><value>2020-01-01T00:00:00Z</value></time><time><value>2010-01-01T00:00:00Z</value></time>"
        '<waveformID networkCode="GE" stationCode="S"/><waveformID networkCode="XX" stationCode="S"/></Pick>'
    )
    pick = xml.decode(data)
    assert pick.time.value == Time(1577836800, 0)
    assert pick.waveformID.networkCode == "GE"
    # A primitive element is found by its name alone.
    with_role = data.replace(
        b"<waveformID", b'<filterID role="x">f1</filterID><filterID>f2</filterID><waveformID', 1
    )
    assert xml.decode(with_role).filterID == "f1"


def test_notifier_object_is_the_first_element_naming_a_data_model_object():
    data = doc(
        '<notifier_message><notifier parentID="x" operation="update">'
        "<TimeQuantity><value>2020-01-01T00:00:00Z</value></TimeQuantity><Unknown/>"
        '<Comment role="other"><text>no</text></Comment>'
        "<Comment><text>yes</text></Comment><Comment><text>later</text></Comment>"
        "</notifier></notifier_message>"
    )
    (notifier,) = xml.decode(data).attachments
    assert notifier.object == Comment(text="yes")
    empty = doc('<notifier_message><notifier operation="remove"/></notifier_message>')
    assert xml.decode(empty).attachments[0].object is None


def test_data_message_attachments_are_every_element_naming_a_class():
    data = doc("<data_message><Comment><text>a</text></Comment><nothing/><Phase>P</Phase></data_message>")
    assert xml.decode(data) == DataMessage(attachments=[Comment(text="a"), Phase(code="P")])


def test_children_keep_their_order_and_know_their_parent():
    data = doc(
        '<Origin publicID="o"><time><value>2020-01-01T00:00:00Z</value></time>'
        "<latitude><value>1</value></latitude><longitude><value>2</value></longitude>"
        "<arrival><pickID>a</pickID><phase>P</phase></arrival><comment><text>c</text></comment>"
        "<arrival><pickID>b</pickID><phase>S</phase></arrival></Origin>"
    )
    origin = xml.decode(data)
    assert [a.pickID for a in origin.children("arrival")] == ["a", "b"]
    assert all(child.parent is origin for _, child in origin.iter_children())


def test_the_expected_class_selects_the_object():
    data = doc('<Comment><text>c</text></Comment><sync_request_message id="s"/>')
    assert xml.decode(data) == Comment(text="c")
    assert xml.decode(data, "Message") == SyncRequestMessage(id="s")
    assert xml.decode(data, SyncRequestMessage) == SyncRequestMessage(id="s")
    with pytest.raises(ArchiveError, match="no notifier_message"):
        xml.decode(data, "notifier_message")
    with pytest.raises(ValueError):
        xml.decode(data, "NoSuchClass")


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            PICK.replace("2020-01-01T00:00:00Z", "yesterday"),
            r"not a time: 'yesterday' \(line 2\).*Pick\.time > TimeQuantity\.value",
        ),
        (
            PICK.replace("<time><value>2020-01-01T00:00:00Z</value></time>", ""),
            r"element 'time' missing.*Pick\.time",
        ),
        (PICK.replace("</Pick>", "<onset>sudden</onset></Pick>"), r"unknown PickOnset name 'sudden'"),
        (
            PICK.replace("</Pick>", "<backazimuth><value>1,5</value></backazimuth></Pick>"),
            r"not a number: '1,5'",
        ),
        (PICK.replace("</time>", "<uncertainty></uncertainty></time>"), r"not a number: ''"),
        (
            '<Arrival preliminary="yes"><pickID>p</pickID><phase>P</phase></Arrival>',
            r"not a boolean: 'yes'.*Arrival\.preliminary",
        ),
        (
            "<DataUsed><waveType>body waves</waveType><stationCount>2147483648</stationCount></DataUsed>",
            r"does not fit in 32 bits",
        ),
        (
            "<DataUsed><waveType>body waves</waveType><stationCount>1</stationCount></DataUsed>",
            r"element 'componentCount' missing",
        ),
        (
            '<notifier_message><notifier parentID="x" operation="insert"/></notifier_message>',
            r"unknown Operation name 'insert'",
        ),
        ("<ComplexArray>(1,2</ComplexArray>", r"not a list of \(re,im\) pairs"),
        ("<nothing/>", r"the document holds no BaseObject object"),
        ("", r"the document holds no BaseObject object"),
    ],
)
def test_malformed_content_raises_archive_error_saying_what_and_where(content, message):
    with pytest.raises(ArchiveError, match=message):
        xml.decode(doc(content))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<seiscomp>",
        b"not xml at all",
        b'<?xml version="1.0"?><seiscomp><a></b></seiscomp>',
        b"\xff\xfe<\x00",
        b'<?xml version="1.0" encoding="no-such-encoding"?><seiscomp/>',
    ],
)
def test_not_well_formed_input_raises_archive_error(data):
    with pytest.raises(ArchiveError):
        xml.decode(data)


def test_documents_with_a_dtd_are_refused_and_entities_never_expanded():
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE seiscomp [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
            for c in b"bcdefghij"
        )
        + b"]><seiscomp><Comment><text>&j;</text></Comment></seiscomp>"
    )
    # libxml2 stops the expansion itself; were it not to, the DTD would be refused.
    with pytest.raises(ArchiveError, match="DTD|entity amplification"):
        xml.decode(laughs)
    with pytest.raises(ArchiveError, match="DTD"):
        xml.decode(
            b'<!DOCTYPE seiscomp [<!ENTITY a "x">]><seiscomp><Comment><text>&a;</text></Comment></seiscomp>'
        )
    external = b'<?xml version="1.0"?><!DOCTYPE s SYSTEM "file:///etc/passwd"><seiscomp/>'
    with pytest.raises(ArchiveError):
        xml.decode(external)


def test_nesting_of_messages_is_limited():
    depth = xml.MAX_NESTING + 1
    data = doc("<data_message>" * depth + "</data_message>" * depth)
    with pytest.raises(ArchiveError, match="nested deeper"):
        xml.decode(data)
    ok = xml.MAX_NESTING - 1
    assert isinstance(xml.decode(doc("<data_message>" * ok + "</data_message>" * ok)), DataMessage)


def test_values_xml_cannot_carry_raise_archive_error_naming_the_member():
    with pytest.raises(ArchiveError, match=r"cannot write value as XML.*Comment\.text"):
        xml.encode(Comment(text="bell\x07"))
    # A string decoded from binary with invalid UTF-8 cannot become XML either.
    odd = binary.decode(
        binary.encode(DataMessage(attachments=[Comment(text="ok")])).replace(b"ok", b"\xff\xfe")
    )
    with pytest.raises(ArchiveError, match=r"DataMessage\.attachments > Comment\.text"):
        xml.encode(odd)


def test_only_objects_of_the_model_are_archived():
    for thing in (object(), "text", None):
        with pytest.raises(ArchiveError):
            xml.encode(thing)


# ---------------------------------------------------------------------------------------------
# Network payloads


def test_xml_content_types_carry_the_document():
    message = NotifierMessage(
        attachments=[Notifier(parentID="EventParameters", operation="add", object=Pick(publicID="p"))]
    )
    document = xml.encode(message)
    compressed = encode_payload(message, ContentType.CONTENT_XML)
    assert zlib.decompress(compressed) == document
    assert decode_payload(compressed, ContentType.CONTENT_XML) == message
    plain = encode_payload(message, ContentType.CONTENT_UNCOMPRESSED_XML, Version(0, 10))
    assert plain == xml.encode(message, Version(0, 10))
    assert decode_payload(plain, ContentType.CONTENT_UNCOMPRESSED_XML) == message
    imported = encode_payload(message, ContentType.CONTENT_IMPORTED_XML)
    assert imported.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<notifier_message xmlns=')
    assert decode_payload(imported, ContentType.CONTENT_IMPORTED_XML) == message


def test_an_xml_payload_must_hold_a_message():
    with pytest.raises(ArchiveError, match="no Message"):
        decode_payload(xml.encode(Pick(publicID="p")), ContentType.CONTENT_UNCOMPRESSED_XML)
    with pytest.raises(ArchiveError):
        decode_payload(zlib.compress(b"<seiscomp><oops"), ContentType.CONTENT_XML)


def test_namespace_helper():
    assert xml.namespace(Version(0, 10)) == "http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/0.10"
    assert etree.QName(etree.fromstring(xml.encode(Pick()))).namespace == NS
