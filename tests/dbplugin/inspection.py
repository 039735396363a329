"""What a database's catalogue says about its tables, in a form two databases can be compared by.

The reference schema files of SeisComP3 are loaded into one database and the schema this
project creates into another; both are then described by the server itself, so the comparison
covers what the server made of the DDL (types, nullability, keys, indexes, defaults), not how
the text was spelled.
"""

from pathlib import Path

import sqlalchemy as sa


def load_reference_sql(engine: sa.Engine, sql_file: Path) -> None:
    """Run one of SeisComP3's schema files (many statements) on ``engine``'s database."""
    # The files start by dropping everything (and, for PostgreSQL, re-creating the plpgsql
    # language, which every supported server already has): a fresh database needs neither.
    script = "\n".join(
        line for line in sql_file.read_text().splitlines()
        if not line.startswith(("DROP ", "CREATE LANGUAGE"))
    )
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.executescript(script)
        elif engine.dialect.name == "mysql":
            cursor = raw.cursor()
            for statement in _split_statements(script):
                cursor.execute(statement)
            cursor.close()
        else:
            cursor = raw.cursor()
            cursor.execute(script)
            cursor.close()
        raw.commit()
    finally:
        raw.close()


def _split_statements(script: str) -> list[str]:
    statements, current = [], []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().rstrip(";")
            if statement:
                statements.append(statement)
            current = []
    return statements


def describe(engine: sa.Engine) -> dict[str, dict]:
    """Tables with their columns (name, type, nullable, default), keys and indexes."""
    inspector = sa.inspect(engine)
    description = {}
    for table in sorted(inspector.get_table_names()):
        declared = declared_types(engine, table)
        columns = [
            (c["name"], declared[c["name"]], c["nullable"], _normalize_default(c.get("default")))
            for c in inspector.get_columns(table)
        ]
        description[table] = {
            "columns": columns,
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]),
                 (fk.get("options") or {}).get("ondelete"))
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"] if engine.dialect.name != "sqlite" else None, tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"] if engine.dialect.name != "mysql" else None, tuple(i["column_names"]),
                 bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        }
    return description


def declared_types(engine: sa.Engine, table: str) -> dict[str, str]:
    """Each column's type as the server's catalogue spells it (lengths and UNSIGNED included)."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "sqlite":
            rows = connection.exec_driver_sql(f'PRAGMA table_info("{table}")')
            return {row[1]: row[2] for row in rows}
        if dialect == "mysql":
            rows = connection.exec_driver_sql(
                "SELECT column_name, column_type FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s", (table,))
            return {row[0]: row[1] for row in rows}
        rows = connection.exec_driver_sql(
            "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s", (table,))
        return {row[0]: f"{row[1]}({row[2]})" if row[2] else row[1] for row in rows}


def _normalize_default(default):
    if default is None:
        return None
    return str(default).strip("()").replace("'", "").lower()


def triggers(engine: sa.Engine) -> list[str]:
    """Names of the triggers in the database, sorted."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "sqlite":
            rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='trigger'")
        elif dialect == "postgresql":
            rows = connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            rows = connection.exec_driver_sql(
                "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()")
        return sorted(row[0] for row in rows)
