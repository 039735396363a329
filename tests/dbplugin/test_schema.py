"""The schema created from the model description is SeisComP3's schema, on all three backends."""

import warnings

import pytest
import sqlalchemy as sa

from dbplugin.schema import (
    ROOT_PUBLIC_IDS,
    SchemaVersionError,
    build_schema,
    check_schema_version,
    create_schema,
    read_schema_version,
)
from dbplugin.url import parse_address
from scmaster3.datamodel.description import Version
from tests.dbplugin.databases import create_database, drop_database
from tests.dbplugin.inspection import describe, load_reference_sql, triggers

REFERENCE_FILES = {"sqlite3": "sqlite3.sql", "mysql": "mysql.sql", "postgresql": "postgres.sql"}


def _engine(database):
    return sa.create_engine(parse_address(database.parameters, service=database.service).url)


@pytest.fixture
def reference_database(empty_database, tmp_path, shared_dir):
    """The same backend as ``empty_database``, loaded with SeisComP3's own schema file."""
    reference = create_database(empty_database.service, tmp_path)
    engine = _engine(reference)
    load_reference_sql(engine, shared_dir / "reference" / "sc3" / REFERENCE_FILES[reference.service])
    yield engine
    engine.dispose()
    drop_database(reference)


def test_created_schema_equals_the_reference_schema(empty_database, reference_database):
    engine = _engine(empty_database)
    create_schema(engine, build_schema(engine.dialect.name))
    with warnings.catch_warnings():
        # SQLAlchemy does not know SQLite's spelling of some types; the catalogue text is compared.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        ours, reference = describe(engine), describe(reference_database)
    assert sorted(ours) == sorted(reference)
    assert len(ours) == 64
    for table in reference:
        assert ours[table] == reference[table], table
    assert triggers(engine) == triggers(reference_database)
    engine.dispose()


def test_bookkeeping_rows_equal_the_reference(empty_database, reference_database):
    engine = _engine(empty_database)
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    query = sa.select(schema.public_object).order_by(schema.public_object.c._oid)
    with engine.connect() as ours, reference_database.connect() as reference:
        rows = ours.execute(query).all()
        assert rows == reference.execute(query).all()
        assert [row[1] for row in rows] == list(ROOT_PUBLIC_IDS)
        meta = sa.select(schema.meta.c.name, schema.meta.c.value).order_by(schema.meta.c.name)
        assert [r.name for r in ours.execute(meta)] == ["Creation-Time", "Schema-Version"]
        assert read_schema_version(ours, schema) == Version(0, 11)
        assert read_schema_version(reference, schema) == Version(0, 11)
    engine.dispose()


def test_schema_of_an_older_version_lacks_the_newer_columns():
    current = build_schema("mysql")
    older = build_schema("mysql", version=Version(0, 10))
    assert "passedQC" in current.class_tables["StationMagnitude"].c
    assert "passedQC" not in older.class_tables["StationMagnitude"].c


def test_postgresql_names_are_folded_and_prefixed():
    schema = build_schema("postgresql")
    pick = schema.class_tables["Pick"]
    assert pick.name == "pick"
    assert "m_time_value" in pick.c and "_parent_oid" in pick.c
    assert schema.public_id_column.name == "m_publicid"


def test_version_check():
    assert check_schema_version(Version(0, 11), strict=True) == Version(0, 11)
    assert check_schema_version(Version(0, 10), strict=False) == Version(0, 10)
    assert check_schema_version(None, strict=False) == Version(0, 0)
    with pytest.raises(SchemaVersionError, match="0.10 found, 0.11 expected"):
        check_schema_version(Version(0, 10), strict=True)
    with pytest.raises(SchemaVersionError, match="0.0 found"):
        check_schema_version(None, strict=True)
    with pytest.raises(SchemaVersionError, match="0.12 is newer"):
        check_schema_version(Version(0, 12), strict=False)


def test_broken_meta_rows_are_refused(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema = build_schema("sqlite")
    with engine.begin() as connection:
        schema.meta.create(connection)
    with engine.begin() as connection:
        with pytest.raises(SchemaVersionError, match="no Schema-Version row"):
            read_schema_version(connection, schema)
        connection.execute(schema.meta.insert().values(name="Schema-Version", value="zero"))
        with pytest.raises(SchemaVersionError, match="not a version"):
            read_schema_version(connection, schema)
    engine.dispose()


def test_missing_meta_table_reads_as_none(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with engine.connect() as connection:
        assert read_schema_version(connection, build_schema("sqlite")) is None
    engine.dispose()
