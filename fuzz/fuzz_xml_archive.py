"""Fuzz the XML archive reader: decoding hostile documents may only raise ArchiveError.

Usage::

    python fuzz/fuzz_xml_archive.py [iterations] [seed]

The corpus is every SC3ML document of ../shared/golden/sc3 (or of $SCMASTER3_SHARED: payload
bodies, scdispatch inputs, the scxmldump output) plus documents of hand-made messages at
several schema versions; each iteration mutates one of them (bit flips, byte insertions and
cuts, renamed elements, replaced values and attributes, DTD and entity snippets, deep
nesting, splices of two documents; every other iteration on the element tree, so that the
mutant stays well-formed: elements renamed, dropped, doubled or moved, texts and attributes
replaced) and decodes the result as a document, as an imported
document and as a zlib payload. A successful decode must write again, and reading and writing
that once more must give the same bytes. Anything else than that or ArchiveError is printed
with the input that caused it; the exit status is then 1.
"""

from __future__ import annotations

import random
import sys
import zlib

from fuzz_binary_archive import SAMPLE_VERSIONS, SHARED, drive, sample_messages
from lxml import etree

from scmaster3.io import ArchiveError, xml
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import ContentType

NAMES = [
    b"seiscomp", b"notifier_message", b"notifier", b"data_message", b"Pick", b"Origin", b"Arrival",
    b"Comment", b"EventParameters", b"Object", b"BaseObject", b"Message", b"time", b"value",
    b"arrival", b"comment", b"phase", b"creationInfo", b"waveformID", b"Phase", b"RealArray", b"x",
]  # fmt: skip
VALUES = [
    b"", b" ", b"nan", b"-inf", b"1e999", b"-2147483649", b"2147483647", b"0x10", b"1_0", b"true",
    b"2020-13-01T00:00:00Z", b"9999-12-31T23:59:59.999999Z", b"1901-01-01T00:00:00Z", b"(1,2", b"add",
    b"0.12", b"0.0", b"65536.1", b"\xc3\x28", b"&amp;", b"&#0;", b"&#x10FFFF;", b"]]>", b"x" * 5000,
    b"1" * 100_000 + b"x",
]  # fmt: skip
SNIPPETS = [
    b'role="origin"', b'role=""', b'version="0.10"', b'version="99.99"', b'operation="add"',
    b"<!DOCTYPE seiscomp>", b'<!ENTITY a "b">', b"&a;", b"<![CDATA[x]]>", b"<!-- c -->", b"<?pi?>",
    b"<data_message>" * 300, b"</data_message>" * 300, b'xmlns="urn:x"', b'xmlns:p="urn:p"', b"<p:x/>",
]  # fmt: skip


def corpus() -> list[bytes]:
    messages = sample_messages()
    documents = [xml.encode(m, v) for m in messages for v in SAMPLE_VERSIONS]
    documents.append(xml.encode(messages[1], formatted=True))
    golden = SHARED / "golden" / "sc3"
    for pattern in ("payloads/*.body.xml", "inputs/*.xml", "db/*.xml"):
        documents.extend(path.read_bytes() for path in sorted(golden.glob(pattern)))
    return documents


def mutate(rng: random.Random, document: bytes, documents: list[bytes]) -> bytes:
    data = bytearray(document)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        where = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(where, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice == 2:
            del data[where : where + rng.randint(1, 40)]
        elif choice == 3:
            start = data.find(b"<", where)
            if start >= 0:
                end = start + 1
                while end < len(data) and data[end : end + 1] not in b" />\n":
                    end += 1
                data[start + 1 : end] = rng.choice(NAMES)
        elif choice == 4:
            start = data.find(b">", where)
            end = data.find(b"<", start + 1)
            if 0 <= start < end:
                data[start + 1 : end] = rng.choice(VALUES)
        elif choice == 5:
            data[where:where] = rng.choice(SNIPPETS)
        else:
            other = rng.choice(documents)
            data[where:] = other[rng.randrange(len(other) + 1) :]
    return bytes(data)


def mutate_tree(rng: random.Random, document: bytes) -> bytes:
    """Well-formed mutants: elements renamed, dropped, doubled or moved, values replaced."""
    root = etree.fromstring(document)
    for _ in range(rng.randint(1, 4)):
        elements = list(root.iter())
        el = rng.choice(elements)
        choice = rng.randrange(6)
        if choice == 0:
            el.tag = rng.choice(NAMES).decode()
        elif choice == 1 and el is not root:
            el.getparent().remove(el)
        elif choice == 2 and el is not root:
            el.addnext(etree.fromstring(etree.tostring(el)))
        elif choice == 3:
            el.text = rng.choice(VALUES).decode("utf-8", "replace").replace("\x00", "")
        elif choice == 4:
            name = rng.choice([*el.attrib, "role", "version", "publicID", "operation", "x"])
            el.set(name, rng.choice(VALUES).decode("utf-8", "replace"))
        else:
            other = rng.choice(elements)
            if other is not el and other is not root and other not in el.iterancestors():
                el.append(other)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def exercise(data: bytes) -> bool:
    """Decode ``data`` every way; True if it decoded as a document."""
    decoded = False
    for decode in (xml.decode_document, lambda d: (xml.decode_imported(d), None)):
        try:
            obj, version = decode(data)
        except ArchiveError:
            continue
        decoded = decoded or version is not None
        written = xml.encode(obj, version)
        again, version_again = xml.decode_document(written)
        if xml.encode(again, version_again) != written:
            raise AssertionError("writing what was read is not a fixed point")
    try:
        decode_payload(zlib.compress(data, 1), ContentType.CONTENT_XML)
    except ArchiveError:
        pass
    return decoded


def main(argv: list[str]) -> int:
    documents = corpus()

    def mutant(rng: random.Random, iteration: int) -> bytes:
        original = rng.choice(documents)
        return mutate_tree(rng, original) if iteration % 2 else mutate(rng, original, documents)

    return drive(argv, 20_000, documents, mutant, exercise)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
