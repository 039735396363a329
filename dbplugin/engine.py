"""SQLAlchemy engines for SeisComP3 databases, and the first-start creation of an SQLite one."""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa

from dbplugin.schema import build_schema, create_schema
from dbplugin.url import DatabaseAddress

log = logging.getLogger(__name__)


def create_engine(address: DatabaseAddress) -> sa.Engine:
    """An engine whose transactions, savepoints included, behave alike on the three backends."""
    if address.service == "sqlite3":
        engine = sa.create_engine(address.url, echo=address.debug)
        # The sqlite3 module opens transactions implicitly and knows nothing of SAVEPOINT; let
        # SQLAlchemy emit BEGIN itself so that nested transactions work as on the servers.
        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: object, record: object) -> None:
            dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return sa.create_engine(
        address.url,
        echo=address.debug,
        pool_pre_ping=True,
        connect_args=address.connect_args(),
    )


def ensure_sqlite_database(address: DatabaseAddress) -> bool:
    """Create the SQLite file with the SeisComP3 schema if it does not exist; True if created.

    SeisComP3 never creates a database; a single-machine installation of this project starts
    with one, so the default configuration works on a fresh machine.
    """
    if address.service != "sqlite3":
        raise ValueError("only SQLite databases are created on start")
    path = address.url.database
    assert path is not None
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    engine = create_engine(address)
    try:
        create_schema(engine, build_schema("sqlite"))
    except BaseException:
        engine.dispose()
        os.unlink(path)
        raise
    engine.dispose()
    log.info("created SQLite database %s with the SeisComP3 schema", path)
    return True
