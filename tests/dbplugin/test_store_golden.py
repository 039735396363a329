"""Stored rows equal the rows real SeisComP3 stored for the same messages (SQLite dumps)."""

import pytest
import sqlalchemy as sa

from dbplugin.schema import build_schema, create_schema
from dbplugin.store import NotifierStore
from scmaster3.datamodel import CURRENT_VERSION
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import ContentType
from tests.dbplugin.golden_rows import parse_dump, read_rows

# (dump after the step, payloads sent in that step, in order)
BINARY_STEPS = [
    ("add_bin", ["03_scdispatch_add_binary_m04", "03_scdispatch_add_binary_m05", "03_scdispatch_add_binary_m06"]),
    ("update_bin", ["04_scdispatch_update_binary_m04"]),
    ("remove_bin", ["05_scdispatch_remove_binary_m04"]),
]
# The same documents sent as XML (with GOLDEN2 ids) into the same database afterwards.
XML_STEPS = [
    ("add_xml", ["06_scdispatch_add_xml_m04", "06_scdispatch_add_xml_m05", "06_scdispatch_add_xml_m06"]),
    ("update_xml", ["07_scdispatch_update_xml_m04"]),
    ("remove_xml", ["08_scdispatch_remove_xml_m04"]),
]


def _message(shared_dir, prefix):
    (path,) = (shared_dir / "golden" / "sc3" / "payloads").glob(f"{prefix}_*.body.zlib")
    content = ContentType.CONTENT_XML if "_XML_" in path.name else ContentType.CONTENT_BINARY
    return decode_payload(path.read_bytes(), content)


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sc3.sqlite'}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize("batched", [False, True], ids=["message by message", "one batch per step"])
def test_binary_and_xml_steps_give_the_rows_seiscomp3_stored(shared_dir, sqlite_engine, batched):
    schema = build_schema("sqlite")
    create_schema(sqlite_engine, schema)
    store = NotifierStore(schema, CURRENT_VERSION)
    for step, prefixes in BINARY_STEPS + XML_STEPS:
        messages = [_message(shared_dir, prefix) for prefix in prefixes]
        if batched:
            # the writer's fast path: one transaction, consecutive ADDs written together
            with sqlite_engine.begin() as connection:
                store.apply_all(connection, [n for m in messages for n in m.attachments], check_duplicates=False)
            store.forget()
        else:
            for message in messages:
                with sqlite_engine.begin() as connection:
                    store.apply_all(connection, message.attachments)
        expected = parse_dump(shared_dir / "golden" / "sc3" / "db" / f"db_rows_after_{step}.sql")
        assert read_rows(sqlite_engine) == expected, step
