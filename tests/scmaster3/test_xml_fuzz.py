"""Hostile input to the XML archive reader: only ArchiveError, never a hang or half an object.

Whatever decodes must write again, and what it writes is the reader's fixed point: reading
and writing that once more gives the same bytes.
"""

import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from scmaster3.datamodel import CURRENT_VERSION
from scmaster3.io import ArchiveError, xml
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import ContentType
from tests.conftest import SHARED

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOLDEN = SHARED / "golden" / "sc3"
CORPUS = [
    *(p.read_bytes() for p in sorted((GOLDEN / "payloads").glob("*.body.xml"))),
    *(p.read_bytes() for p in sorted((GOLDEN / "inputs").glob("*.xml"))),
    (GOLDEN / "db" / "scxmldump_origin_GOLDEN1.xml").read_bytes(),
]

# Tags and attributes the reader knows, values it has to parse, and other things that trip parsers.
NAMES = [
    b"seiscomp",
    b"notifier_message",
    b"notifier",
    b"data_message",
    b"Pick",
    b"Origin",
    b"Arrival",
    b"Comment",
    b"EventParameters",
    b"Object",
    b"BaseObject",
    b"PublicObject",
    b"Message",
    b"time",
    b"value",
    b"arrival",
    b"comment",
    b"phase",
    b"creationInfo",
    b"waveformID",
    b"Phase",
    b"x",
]
VALUES = [
    b"",
    b" ",
    b"nan",
    b"-inf",
    b"1e999",
    b"-2147483649",
    b"2147483647",
    b"0x10",
    b"1_0",
    b"true",
    b"2020-13-01T00:00:00Z",
    b"9999-12-31T23:59:59.999999Z",
    b"1901-01-01T00:00:00Z",
    b"(1,2",
    b"add",
    b"update",
    b"0.12",
    b"0.0",
    b"65536.1",
    b"\xc3\x28",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"]]>",
]
SNIPPETS = [
    b'role="origin"',
    b'role=""',
    b'version="0.10"',
    b'version="99.99"',
    b'operation="add"',
    b"<!DOCTYPE seiscomp>",
    b'<!ENTITY a "b">',
    b"&a;",
    b"<![CDATA[x]]>",
    b"<!-- c -->",
    b"<?pi?>",
    b"<data_message>" * 80,
    b"</data_message>" * 80,
    b'xmlns="urn:x"',
    b'xmlns:p="urn:p"',
    b"<p:x/>",
]


def decode_or_error(data: bytes) -> None:
    for decode in (xml.decode_document, lambda d: (xml.decode_imported(d), None)):
        try:
            obj, version = decode(data)
        except ArchiveError as exc:
            assert exc.reason
            continue
        written = xml.encode(obj, version)
        obj_again, version_again = xml.decode_document(written)
        assert version_again == (version or CURRENT_VERSION)
        assert xml.encode(obj_again, version_again) == written
    try:
        decode_payload(zlib.compress(data, 1), ContentType.CONTENT_XML)
    except ArchiveError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    decode_or_error(data)
    decode_or_error(b"<seiscomp>" + data + b"</seiscomp>")


@FUZZ
@given(st.data())
def test_mutated_documents(data):
    document = bytearray(data.draw(st.sampled_from(CORPUS)))
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(document)))
        action = data.draw(
            st.sampled_from(["flip", "insert", "delete", "name", "value", "snippet", "splice"])
        )
        if action == "flip" and where < len(document):
            document[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "insert":
            document[where:where] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del document[where : where + data.draw(st.integers(1, 40))]
        elif action == "name":
            # Rename the element or attribute at the next tag.
            start = document.find(b"<", where)
            if start >= 0:
                end = start + 1
                while end < len(document) and document[end : end + 1] not in b" />\n":
                    end += 1
                document[start + 1 : end] = data.draw(st.sampled_from(NAMES))
        elif action == "value":
            # Replace the next text content or attribute value.
            start = document.find(b">", where)
            end = document.find(b"<", start + 1)
            if 0 <= start < end:
                document[start + 1 : end] = data.draw(st.sampled_from(VALUES))
        elif action == "snippet":
            document[where:where] = data.draw(st.sampled_from(SNIPPETS))
        else:
            other = data.draw(st.sampled_from(CORPUS))
            document[where:] = other[data.draw(st.integers(0, len(other))) :]
    decode_or_error(bytes(document))


@FUZZ
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=12), st.sampled_from(VALUES))
def test_nested_known_names(names, value):
    opening = b"".join(b"<" + n + b">" for n in names)
    closing = b"".join(b"</" + n + b">" for n in reversed(names))
    decode_or_error(b'<seiscomp version="0.11">' + opening + value + closing + b"</seiscomp>")


@FUZZ
@given(st.data())
def test_mutated_element_trees(data):
    """Well-formed mutants: elements renamed, dropped, doubled or moved, texts and attributes replaced."""
    root = etree.fromstring(data.draw(st.sampled_from(CORPUS)))
    for _ in range(data.draw(st.integers(1, 4))):
        elements = list(root.iter())
        el = data.draw(st.sampled_from(elements))
        action = data.draw(st.sampled_from(["rename", "drop", "double", "text", "attribute", "move"]))
        if action == "rename":
            el.tag = data.draw(st.sampled_from(NAMES)).decode()
        elif action == "drop" and el is not root:
            el.getparent().remove(el)
        elif action == "double" and el is not root:
            el.addnext(etree.fromstring(etree.tostring(el)))
        elif action == "text":
            el.text = data.draw(st.sampled_from(VALUES)).decode("utf-8", "replace")
        elif action == "attribute":
            name = data.draw(st.sampled_from([*el.attrib, "role", "version", "publicID", "operation"]))
            el.set(name, data.draw(st.sampled_from(VALUES)).decode("utf-8", "replace"))
        elif action == "move":
            other = data.draw(st.sampled_from(elements))
            if other is not el and other is not root and other not in el.iterancestors():
                el.append(other)
    decode_or_error(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
