"""Messages as data-message payloads: content types, zlib, the archive-format registry."""

import json
import zlib

import pytest

from scmaster3.datamodel import (
    DatabaseProvideMessage,
    Notifier,
    NotifierMessage,
    Pick,
    SyncRequestMessage,
    Version,
)
from scmaster3.io import ArchiveError, binary, payload
from scmaster3.io.payload import (
    FORMAT_OF_CONTENT_TYPE,
    FORMAT_PROVIDERS,
    archive_format,
    decode_payload,
    encode_payload,
    register_format,
)
from scmaster3.protocol import ContentType


def test_binary_payload_is_a_zlib_stream_of_the_versioned_archive():
    message = NotifierMessage(
        attachments=[Notifier(parentID="EventParameters", operation="add", object=Pick())]
    )
    data = encode_payload(message)
    assert data[:2] == b"\x78\x9c"
    assert zlib.decompress(data) == binary.encode(message)
    assert decode_payload(data, ContentType.CONTENT_BINARY) == message


def test_protocol_1_0_payloads_have_no_archive_header():
    message = SyncRequestMessage(id="s")
    data = encode_payload(message, ContentType.CONTENT_BINARY, Version(0, 0))
    assert zlib.decompress(data) == binary.encode(message, 0)
    assert decode_payload(data, 0) == message


def test_content_types_name_their_format_and_compression():
    assert FORMAT_OF_CONTENT_TYPE[ContentType.CONTENT_XML] == "xml"
    assert FORMAT_OF_CONTENT_TYPE[ContentType.CONTENT_UNCOMPRESSED_XML] == "xml"
    assert FORMAT_OF_CONTENT_TYPE[ContentType.CONTENT_IMPORTED_XML] == "imported_xml"
    assert FORMAT_PROVIDERS["xml"] == "scmaster3.io.xml"
    with pytest.raises(ArchiveError, match="unknown content type 8"):
        encode_payload(SyncRequestMessage(), 8)


@pytest.fixture
def json_format():
    """A small real codec for the JSON content types, which have no codec of their own."""

    def encode(message, version):
        return json.dumps({"class": type(message).SPEC.rtti_name, "id": message.id}).encode()

    def decode(data):
        fields = json.loads(data)
        if fields.get("class") != "sync_request_message":
            raise ArchiveError("not a sync request")
        return SyncRequestMessage(id=fields["id"])

    register_format("json", encode, decode)
    yield
    del payload._FORMATS["json"]


def test_registered_formats_serve_their_content_types(json_format):
    message = SyncRequestMessage(id="abc")
    compressed = encode_payload(message, ContentType.CONTENT_JSON)
    plain = encode_payload(message, ContentType.CONTENT_UNCOMPRESSED_JSON)
    assert zlib.decompress(compressed) == plain == b'{"class": "sync_request_message", "id": "abc"}'
    assert decode_payload(compressed, ContentType.CONTENT_JSON) == message
    assert decode_payload(plain, ContentType.CONTENT_UNCOMPRESSED_JSON) == message
    with pytest.raises(ArchiveError, match="not a sync request"):
        decode_payload(b"{}", ContentType.CONTENT_UNCOMPRESSED_JSON)
    with pytest.raises(ArchiveError, match="undecodable json payload"):
        decode_payload(b"{", ContentType.CONTENT_UNCOMPRESSED_JSON)  # the codec's own error is wrapped


def test_formats_without_codec_are_an_archive_error():
    with pytest.raises(ArchiveError, match="no codec for bson"):
        decode_payload(b"\x00", ContentType.CONTENT_UNCOMPRESSED_BSON)
    with pytest.raises(ArchiveError, match="no codec for bson"):
        archive_format("bson")


def test_malformed_payloads():
    good = encode_payload(DatabaseProvideMessage(name="sqlite3", parameters="db"))
    with pytest.raises(ArchiveError, match="not a zlib stream"):
        decode_payload(b"SCBA" + good, 0)
    with pytest.raises(ArchiveError, match="truncated"):
        decode_payload(good[:-5], 0)
    with pytest.raises(ArchiveError, match="unknown content type 12"):
        decode_payload(good, 12)
    with pytest.raises(ArchiveError, match="input ends"):
        decode_payload(zlib.compress(zlib.decompress(good)[:-3]), 0)
    with pytest.raises(ArchiveError, match="expected class Message"):
        decode_payload(zlib.compress(binary.encode(Pick())), 0)
    with pytest.raises(ArchiveError, match="carries a message"):
        encode_payload(Pick())


def test_inflation_is_bounded():
    bomb = zlib.compress(b"\x00" * (4 * 1024 * 1024))
    assert len(bomb) < 8192
    with pytest.raises(ArchiveError, match="more than 1048576 bytes"):
        decode_payload(bomb, 0, max_size=1024 * 1024)


def test_captured_payloads_decode_as_messages(shared_dir):
    files = sorted((shared_dir / "golden/sc3/payloads").glob("*_DATA_MSG_BINARY_*.body.zlib"))
    kinds = {type(decode_payload(p.read_bytes(), 0)).__name__ for p in files}
    assert kinds == {"NotifierMessage", "DatabaseProvideMessage", "SyncRequestMessage", "SyncResponseMessage"}
