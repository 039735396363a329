"""``scdbinit3``: create a database with the SeisComP3 schema, or report a database's version."""

from __future__ import annotations

import argparse
import logging
import sys

import sqlalchemy as sa

from dbplugin.engine import create_engine, ensure_sqlite_database
from dbplugin.schema import (
    SchemaVersionError,
    build_schema,
    check_schema_version,
    create_schema,
    read_schema_version,
)
from dbplugin.url import ConnectionStringError, DatabaseAddress, parse_address
from scmaster3.datamodel.description import CURRENT_VERSION

log = logging.getLogger("scdbinit3")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scdbinit3",
        description="Create a SeisComP3 database (schema 0.11) for MySQL/MariaDB, PostgreSQL or SQLite, "
        "or check the schema version of an existing one.",
    )
    parser.add_argument(
        "-d", "--database", required=True,
        help="service://parameters, e.g. sqlite3:///var/lib/seiscomp3.sqlite or mysql://sysop:sysop@localhost/seiscomp3",
    )
    parser.add_argument("--driver", help="driver when --database has no service:// part (default mysql)")
    parser.add_argument("--check", action="store_true", help="only report the schema version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every statement")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        address = parse_address(args.database, service=args.driver)
    except ConnectionStringError as exc:
        log.error("%s", exc)
        return 2
    if address.service == "sqlite3" and not args.check:
        try:
            created = ensure_sqlite_database(address)
        except sa.exc.SQLAlchemyError as exc:
            log.error("cannot create %s: %s", address.url.database, exc)
            return 1
        if not created:
            return _check(address)
        return 0
    if args.check:
        return _check(address)
    engine = create_engine(address)
    engine.echo = args.verbose
    schema = build_schema(engine.dialect.name, address.column_prefix)
    try:
        with engine.connect() as connection:
            if sa.inspect(connection).has_table(schema.meta.name):
                log.error("%s already has a schema; not touching it", address.seiscomp_url())
                engine.dispose()
                return 1
        create_schema(engine, schema)
    except sa.exc.SQLAlchemyError as exc:
        log.error("cannot create the schema in %s: %s", address.seiscomp_url(), exc)
        return 1
    finally:
        engine.dispose()
    log.info("created the SeisComP3 schema %s in %s", CURRENT_VERSION, address.seiscomp_url())
    return 0


def _check(address: DatabaseAddress) -> int:
    engine = create_engine(address)
    schema = build_schema(engine.dialect.name, address.column_prefix)
    try:
        with engine.connect() as connection:
            found = read_schema_version(connection, schema)
        check_schema_version(found, strict=True)
    except (SchemaVersionError, sa.exc.SQLAlchemyError) as exc:
        log.error("%s: %s", address.seiscomp_url(), exc)
        return 1
    finally:
        engine.dispose()
    log.info("%s: schema version %s", address.seiscomp_url(), found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
