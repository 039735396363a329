"""The XML archive against what SeisComP3 wrote and read in the golden capture.

* every SC3ML payload written by scdispatch/scmaster and the ``scxmldump -f`` output are read
  and written again byte for byte;
* the documents given to scdispatch are read into the objects scdispatch sent;
* XML and binary payloads of the same notifiers (sessions 06-08 in XML, 03-05 in binary, the
  same objects apart from the ``GOLDEN2``/``GOLDEN1`` ids) convert into each other exactly.
"""

import pytest
from lxml import etree

from scmaster3.datamodel import (
    CURRENT_VERSION,
    EventParameters,
    NotifierMessage,
    Origin,
    Pick,
    SyncRequestMessage,
    Time,
)
from scmaster3.io import binary, xml
from scmaster3.io.payload import decode_payload, encode_payload
from tests.conftest import SHARED
from tests.scmaster3.test_xml_roundtrip import check_document

GOLDEN = SHARED / "golden" / "sc3"

# scdispatch --encoding xml (sessions 06-08), as sent and as relayed to a subscriber (02).
XML_BODIES = sorted(p.name for p in (GOLDEN / "payloads").glob("*.body.xml"))

# The same notifier in XML (GOLDEN2 ids) and in binary (GOLDEN1 ids).
SAME_NOTIFIERS = [
    (
        "06_scdispatch_add_xml_m04_c2s_DATA_MSG_XML_PICK",
        "03_scdispatch_add_binary_m04_c2s_DATA_MSG_BINARY_PICK",
    ),
    (
        "06_scdispatch_add_xml_m05_c2s_DATA_MSG_XML_LOCATION",
        "03_scdispatch_add_binary_m05_c2s_DATA_MSG_BINARY_LOCATION",
    ),
    (
        "06_scdispatch_add_xml_m06_c2s_DATA_MSG_XML_LOCATION",
        "03_scdispatch_add_binary_m06_c2s_DATA_MSG_BINARY_LOCATION",
    ),
    (
        "07_scdispatch_update_xml_m04_c2s_DATA_MSG_XML_LOCATION",
        "04_scdispatch_update_binary_m04_c2s_DATA_MSG_BINARY_LOCATION",
    ),
    (
        "08_scdispatch_remove_xml_m04_c2s_DATA_MSG_XML_PICK",
        "05_scdispatch_remove_binary_m04_c2s_DATA_MSG_BINARY_PICK",
    ),
]

# The sync request ends each dispatch; ids are timestamps of equal length in 03 and 06.
SAME_SYNC_REQUEST = (
    "06_scdispatch_add_xml_m07_c2s_DATA_MSG_XML_STATUS_GROUP",
    "03_scdispatch_add_binary_m07_c2s_DATA_MSG_BINARY_STATUS_GROUP",
)


@pytest.fixture(scope="module")
def golden(shared_dir):
    return shared_dir / "golden" / "sc3"


def test_every_xml_body_of_the_capture_is_covered(golden):
    assert len(XML_BODIES) == 13
    assert sorted(p.name for p in (golden / "payloads").glob("*.body.xml")) == XML_BODIES


@pytest.mark.parametrize("name", XML_BODIES)
def test_payload_bodies_rewrite_byte_for_byte(golden, name):
    data = (golden / "payloads" / name).read_bytes()
    obj, version = xml.decode_document(data, "Message")
    assert version == CURRENT_VERSION
    assert xml.encode(obj, version) == data


@pytest.mark.parametrize("name", XML_BODIES)
def test_payload_data_fields_inflate_to_the_bodies_and_are_written_again(golden, name):
    body = (golden / "payloads" / name).read_bytes()
    data_field = (golden / "payloads" / name.replace(".body.xml", ".body.zlib")).read_bytes()
    message = decode_payload(data_field, 1)
    assert message == xml.decode(body)
    assert encode_payload(message, 1) == data_field


def test_scxmldump_formatted_output_rewrites_byte_for_byte(golden):
    data = (golden / "db" / "scxmldump_origin_GOLDEN1.xml").read_bytes()
    ep = xml.decode(data)
    assert isinstance(ep, EventParameters)
    (origin,) = ep.children("origin")
    assert origin.publicID == "Origin/20200101000005.000000.GOLDEN1"
    assert origin.time.value == Time(1577836805, 400000)
    assert origin.creationInfo.modificationTime == Time(1577837100, 0)
    (arrival,) = origin.children("arrival")
    assert arrival.parent is origin and arrival.pickID == "Pick/20200101000010.000000.GOLDEN1"
    assert xml.encode(ep, formatted=True) == data
    # Unformatted output is the same document without the indentation.
    compact = etree.tostring(etree.fromstring(data, etree.XMLParser(remove_blank_text=True)))
    assert xml.encode(ep) == b'<?xml version="1.0" encoding="UTF-8"?>\n' + compact + b"\n"


@pytest.mark.parametrize("name", ["ep_add.xml", "ep2_add.xml"])
def test_scdispatch_inputs_read_into_the_objects_that_were_sent(golden, name):
    ep = xml.decode((golden / "inputs" / name).read_bytes())
    (pick,) = ep.children("pick")
    (origin,) = ep.children("origin")
    suffix = "GOLDEN2" if name.startswith("ep2") else "GOLDEN1"
    # What scdispatch sent for these objects (binary session 03 / XML session 06).
    if suffix == "GOLDEN1":
        sent = [
            binary.decode((golden / "payloads" / f"{b}.body.bin").read_bytes()) for _, b in SAME_NOTIFIERS[:3]
        ]
    else:
        sent = [
            xml.decode((golden / "payloads" / f"{x}.body.xml").read_bytes()) for x, _ in SAME_NOTIFIERS[:3]
        ]
    sent_pick, sent_origin, sent_arrival = (m.attachments[0].object for m in sent)
    assert isinstance(pick, Pick) and pick == sent_pick
    # The notifier carries the origin without its arrival, which travels in a notifier of its own.
    arrival = origin.children("arrival")[0]
    assert arrival == sent_arrival
    origin.remove(arrival)
    assert isinstance(origin, Origin) and origin == sent_origin
    assert pick.publicID.endswith(suffix)


@pytest.mark.parametrize("name", ["ep_update.xml", "ep_remove.xml", "ep2_update.xml", "ep2_remove.xml"])
def test_other_scdispatch_inputs_read(golden, name):
    ep = xml.decode((golden / "inputs" / name).read_bytes())
    assert isinstance(ep, EventParameters)
    assert len(ep.children("pick")) + len(ep.children("origin")) == 1


@pytest.mark.parametrize(("xml_name", "binary_name"), SAME_NOTIFIERS)
def test_xml_payload_converts_to_the_binary_payload_of_the_same_notifier(golden, xml_name, binary_name):
    data = (golden / "payloads" / f"{xml_name}.body.xml").read_bytes()
    expected = (golden / "payloads" / f"{binary_name}.body.bin").read_bytes()
    message = xml.decode(data.replace(b"GOLDEN2", b"GOLDEN1"), "Message")
    assert isinstance(message, NotifierMessage)
    assert binary.encode(message) == expected


@pytest.mark.parametrize(("xml_name", "binary_name"), SAME_NOTIFIERS)
def test_binary_payload_converts_to_the_xml_payload_of_the_same_notifier(golden, xml_name, binary_name):
    data = (golden / "payloads" / f"{binary_name}.body.bin").read_bytes()
    expected = (golden / "payloads" / f"{xml_name}.body.xml").read_bytes()
    message = binary.decode(data, "Message")
    assert xml.encode(message).replace(b"GOLDEN1", b"GOLDEN2") == expected


def test_sync_request_converts_between_xml_and_binary(golden):
    xml_name, binary_name = SAME_SYNC_REQUEST
    data = (golden / "payloads" / f"{xml_name}.body.xml").read_bytes()
    request = xml.decode(data)
    assert isinstance(request, SyncRequestMessage)
    binary_body = (golden / "payloads" / f"{binary_name}.body.bin").read_bytes()
    other = binary.decode(binary_body)
    assert binary.encode(request) == binary_body.replace(other.id.encode(), request.id.encode())


@pytest.mark.parametrize(
    "name", [*(f"payloads/{n}" for n in XML_BODIES), "db/scxmldump_origin_GOLDEN1.xml", "inputs/ep_add.xml"]
)
def test_golden_documents_survive_xml_binary_xml(golden, name):
    data = (golden / name).read_bytes()
    obj = xml.decode(data)
    assert binary.decode(binary.encode(obj)) == obj
    assert xml.decode(xml.encode(binary.decode(binary.encode(obj)))) == obj


@pytest.mark.parametrize(
    "name",
    [
        *(f"payloads/{n}" for n in XML_BODIES if "STATUS_GROUP" not in n),
        "db/scxmldump_origin_GOLDEN1.xml",
        "inputs/ep_add.xml",
        "inputs/ep_update.xml",
    ],
)
def test_rewritten_golden_documents_validate_against_the_xsd(golden, name):
    # The sync requests are messages of the messaging layer, which the data-model XSD has no type for.
    obj = xml.decode((golden / name).read_bytes())
    for formatted in (False, True):
        check_document(xml.encode(obj, formatted=formatted), CURRENT_VERSION)
