"""SeisComP3's database schema, built from the data-model description, and its version check.

The tables are SQLAlchemy Core ``Table`` objects made from the description's table specs:
the bookkeeping tables ``Meta``, ``Object`` and ``PublicObject``, then one table per class
with a parent. Column types are the ones of SeisComP3's own schema files for each backend,
so a database created here is the database SeisComP3's setup would have created, and every
SeisComP3 tool can read it.

Identifiers follow what SeisComP3's drivers send: unquoted names, which PostgreSQL folds to
lower case. The PostgreSQL tables are therefore declared in lower case (``pick``,
``m_time_value``); MySQL and SQLite keep the model's spelling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import UserDefinedType

from scmaster3.datamodel.description import CURRENT_VERSION, Model, TableSpec, Version, load_model

# Roots have no table: each exists as one Object/PublicObject pair, created in this order.
ROOT_PUBLIC_IDS = (
    "EventParameters",
    "Config",
    "QualityControl",
    "Inventory",
    "Routing",
    "Journaling",
    "ArclinkLog",
    "DataAvailability",
)

# SeisComP3's schema files name their indexes <Table>_<columns>, all but this one, which
# its migration scripts address by the name it has.
_IRREGULAR_INDEX_NAMES = {("Amplitude", ("timeWindow_reference", "timeWindow_reference_ms")): "Amplitude_timeWindow_reference"}

DIALECT_KEYS = {"mysql": "sql_mysql", "postgresql": "sql_postgresql", "sqlite": "sql_sqlite3"}


class SchemaVersionError(RuntimeError):
    """The database's schema version does not allow storing into it."""


class DeclaredType(UserDefinedType):
    """A column type spelled exactly as SeisComP3's schema file for the backend spells it."""

    cache_ok = True

    def __init__(self, declaration: str) -> None:
        self.declaration = declaration

    def get_col_spec(self, **kw: object) -> str:
        return self.declaration


@compiles(DeclaredType)
def _compile_declared(element: DeclaredType, compiler: object, **kw: object) -> str:
    return element.declaration


def _split_declaration(text: str) -> tuple[str, bool, str | None]:
    """``"TINYINT(1) NOT NULL DEFAULT '0'"`` to (type, not null, default)."""
    default = None
    if " DEFAULT " in text:
        text, _, default = text.partition(" DEFAULT ")
        default = default.strip()
    not_null = text.endswith(" NOT NULL")
    if not_null:
        text = text[: -len(" NOT NULL")]
    return text.strip(), not_null, default


@dataclass(frozen=True)
class Schema:
    """The tables of one backend, with the names the store needs."""

    dialect: str
    column_prefix: str
    metadata: sa.MetaData
    meta: sa.Table
    object: sa.Table
    public_object: sa.Table
    class_tables: dict[str, sa.Table]
    """Class name (``Pick``) to its table."""

    def column_name(self, name: str) -> str:
        """The SQL name of an attribute column (``time_value`` -> ``m_time_value`` on PostgreSQL)."""
        return self.identifier(self.column_prefix + name)

    def identifier(self, name: str) -> str:
        return name.lower() if self.dialect == "postgresql" else name

    @property
    def public_id_column(self) -> sa.Column:
        return self.public_object.c[self.column_name("publicID")]


def build_schema(
    dialect: str,
    column_prefix: str | None = None,
    version: Version = CURRENT_VERSION,
    model: Model | None = None,
) -> Schema:
    """The schema of ``version`` for ``dialect`` (``sqlite``, ``mysql`` or ``postgresql``)."""
    if dialect not in DIALECT_KEYS:
        raise ValueError(f"unsupported database dialect {dialect!r}")
    model = model or load_model()
    if column_prefix is None:
        column_prefix = "m_" if dialect == "postgresql" else ""
    ident = (lambda name: name.lower()) if dialect == "postgresql" else (lambda name: name)
    metadata = sa.MetaData()
    table_options = {"mysql_engine": "InnoDB"} if dialect == "mysql" else {}
    meta, object_table, public_object = _bookkeeping_tables(metadata, dialect, column_prefix, ident, table_options)
    class_tables = {}
    for spec in model.tables():
        assert spec.table is not None
        class_tables[spec.name] = _class_table(
            metadata, spec.table, dialect, column_prefix, version, ident, table_options
        )
    return Schema(dialect, column_prefix, metadata, meta, object_table, public_object, class_tables)


def _bookkeeping_tables(
    metadata: sa.MetaData, dialect: str, prefix: str, ident: object, options: dict
) -> tuple[sa.Table, sa.Table, sa.Table]:
    key_type = sa.Integer() if dialect == "sqlite" else sa.BigInteger()
    name_type, value_type = {
        "mysql": ("CHAR(80)", "VARCHAR(255)"),
        "postgresql": ("VARCHAR(80)", "VARCHAR(255)"),
        "sqlite": ("CHAR", "VARCHAR"),
    }[dialect]
    meta = sa.Table(
        ident("Meta"),
        metadata,
        sa.Column("name", DeclaredType(name_type), primary_key=True, nullable=False),
        sa.Column("value", DeclaredType(value_type), nullable=False),
        **options,
    )
    oid_arguments: list = []
    oid_options: dict = {"primary_key": True, "autoincrement": True}
    if dialect == "postgresql":
        # SeisComP3 inserts `values(default)` and then asks currval('Object_seq'): the column
        # default must be the sequence itself, not a client-side value.
        oid_arguments.append(sa.Sequence("object_seq", metadata=metadata))
        oid_options["server_default"] = sa.text("nextval('object_seq')")
    object_options = dict(options)
    if dialect == "sqlite":
        # AUTOINCREMENT keeps SQLite from reusing the oid of a removed object.
        object_options["sqlite_autoincrement"] = True
    object_table = sa.Table(
        ident("Object"),
        metadata,
        sa.Column("_oid", key_type, *oid_arguments, **oid_options),
        sa.Column("_timestamp", sa.TIMESTAMP(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=True),
        **object_options,
    )
    public_object = sa.Table(
        ident("PublicObject"),
        metadata,
        sa.Column(
            "_oid",
            key_type,
            sa.ForeignKey(object_table.c._oid, ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(ident(prefix + "publicID"), DeclaredType("VARCHAR(255)"), nullable=False, unique=True),
        **options,
    )
    return meta, object_table, public_object


def _class_table(
    metadata: sa.MetaData,
    spec: TableSpec,
    dialect: str,
    prefix: str,
    version: Version,
    ident: object,
    options: dict,
) -> sa.Table:
    key_type = DeclaredType({"mysql": "BIGINT(20)", "postgresql": "BIGINT", "sqlite": "INTEGER"}[dialect])
    name = ident(spec.name)
    columns: list[sa.Column] = [
        sa.Column(
            "_oid", key_type, sa.ForeignKey(f"{ident('Object')}._oid", ondelete="CASCADE"),
            primary_key=True, autoincrement=False, nullable=False,
        ),
        sa.Column("_parent_oid", key_type, nullable=False),
    ]
    if spec.last_modified_column:
        default = "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP" if dialect == "mysql" else "CURRENT_TIMESTAMP"
        columns.append(sa.Column("_last_modified", sa.TIMESTAMP(), server_default=sa.text(default), nullable=True))
    sql_key = DIALECT_KEYS[dialect]
    for column in spec.columns_in(version):
        type_text, not_null, default = _split_declaration(getattr(column, sql_key))
        columns.append(
            sa.Column(
                ident(prefix + column.name),
                DeclaredType(type_text),
                nullable=not not_null,
                server_default=sa.text(default) if default is not None else None,
            )
        )
    table = sa.Table(name, metadata, *columns, **options)
    present = {c.name for c in table.columns}

    def sql_names(names: Iterable[str]) -> list[str]:
        return [n if n.startswith("_") else ident(prefix + n) for n in names]

    for unique in spec.unique_composite:
        names = sql_names(unique)
        if not set(names) <= present:
            continue
        constraint_name = {"mysql": "composite_index", "postgresql": f"{name}_composite_index"}.get(dialect)
        table.append_constraint(sa.UniqueConstraint(*names, name=constraint_name))
    # The index on _parent_oid and the secondary indexes of SeisComP3's schema files. MySQL
    # names an unnamed index after its first column; the other two name them <Table>_<cols>.
    index_columns = [("_parent_oid",), *spec.secondary_indexes_mysql]
    used_mysql_names: set[str] = set()
    for model_names in index_columns:
        names = sql_names(model_names)
        if not set(names) <= present:
            continue
        if dialect == "mysql":
            index_name = names[0]
            suffix = 2
            while index_name in used_mysql_names:
                index_name, suffix = f"{names[0]}_{suffix}", suffix + 1
            used_mysql_names.add(index_name)
        else:
            irregular = _IRREGULAR_INDEX_NAMES.get((spec.name, tuple(model_names)))
            index_name = ident(irregular or f"{spec.name}_{'_'.join(names)}")
        sa.Index(index_name, *(table.c[n] for n in names))
    _add_update_trigger(table, spec, dialect)
    return table


def _add_update_trigger(table: sa.Table, spec: TableSpec, dialect: str) -> None:
    """Keep ``_last_modified`` current on UPDATE where the backend cannot do it by itself."""
    if dialect == "postgresql" and spec.last_modified_column:
        statement = (
            f"CREATE TRIGGER {table.name}_update BEFORE UPDATE ON {table.name} "
            "FOR EACH ROW EXECUTE PROCEDURE update_modified()"
        )
    elif dialect == "sqlite":
        # SeisComP3's SQLite schema has this trigger on every table, also on Reading, which
        # has no _last_modified column (SQLite resolves the column only when it fires).
        statement = (
            f"CREATE TRIGGER {spec.name}Update UPDATE ON {spec.name} BEGIN "
            f"UPDATE {spec.name} SET _last_modified=CURRENT_TIMESTAMP WHERE _oid=old._oid; END"
        )
    else:
        return
    sa.event.listen(table, "after_create", sa.DDL(statement))


_UPDATE_MODIFIED_FUNCTION = (
    "CREATE OR REPLACE FUNCTION update_modified() RETURNS trigger AS "
    "$$begin new._last_modified := now(); return new; end;$$ LANGUAGE plpgsql"
)


def create_schema(engine: sa.Engine, schema: Schema, version: Version = CURRENT_VERSION) -> None:
    """Create every table in an empty database, with the ``Meta`` rows and the root objects."""
    with engine.begin() as connection:
        if schema.dialect == "postgresql":
            connection.exec_driver_sql(_UPDATE_MODIFIED_FUNCTION)
        schema.metadata.create_all(connection)
        connection.execute(
            schema.meta.insert(),
            [{"name": "Schema-Version", "value": str(version)}],
        )
        connection.execute(
            schema.meta.insert().values(name="Creation-Time", value=sa.func.current_timestamp())
        )
        for public_id in ROOT_PUBLIC_IDS:
            oid = connection.execute(schema.object.insert()).inserted_primary_key[0]
            connection.execute(schema.public_object.insert().values({"_oid": oid, schema.public_id_column.name: public_id}))


def read_schema_version(connection: sa.Connection, schema: Schema) -> Version | None:
    """The ``Schema-Version`` of the database; None when it has no ``Meta`` table at all.

    A ``Meta`` table without the row, or with a value that is not a version, is an error:
    SeisComP3 refuses such a database too.
    """
    if not sa.inspect(connection).has_table(schema.meta.name):
        return None
    row = connection.execute(
        sa.select(schema.meta.c.value).where(schema.meta.c.name == "Schema-Version")
    ).first()
    if row is None:
        raise SchemaVersionError("the database's Meta table has no Schema-Version row")
    try:
        return Version.parse(str(row[0]))
    except ValueError:
        raise SchemaVersionError(f"the database's Schema-Version {row[0]!r} is not a version") from None


def check_schema_version(found: Version | None, strict: bool, expected: Version = CURRENT_VERSION) -> Version:
    """The version to write with, or SchemaVersionError saying what was found and expected.

    Like SeisComP3: no ``Meta`` table counts as 0.0; a newer schema than this program knows is
    refused; an older one is written with its own fields only, and refused when ``strict``.
    """
    version = found if found is not None else Version(0, 0)
    if version > expected:
        raise SchemaVersionError(
            f"database schema version {version} is newer than the supported version {expected}"
        )
    if version < expected and strict:
        raise SchemaVersionError(
            f"database schema version {version} found, {expected} expected; upgrade the database or "
            "set plugins.dbPlugin.strictVersionCheck = false to store only the fields it has"
        )
    return version
