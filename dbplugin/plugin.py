"""The ``dbplugin`` of the mediator: every notifier stored before its message is relayed.

Configuration, as SeisComP3's scmaster reads it (keys under ``plugins.dbPlugin.``):
``dbDriver`` (mysql, postgresql, sqlite3), ``writeConnection`` (the mediator's own),
``readConnection`` (announced to every admitted client in a DatabaseProvideMessage) and
``strictVersionCheck`` (refuse a database whose schema is older than 0.11).

Differences from SeisComP3, all on the side of not losing data:

* the message is relayed only once its notifiers are committed, and while the database is
  unreachable messages are held in arrival order and retried, not logged and relayed;
* messages are committed in batches (see ``dbplugin.writer``);
* an SQLite database that does not exist yet is created with the SeisComP3 schema.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

import sqlalchemy as sa

from dbplugin.engine import create_engine, ensure_sqlite_database
from dbplugin.schema import SchemaVersionError, build_schema, check_schema_version, read_schema_version
from dbplugin.store import NotifierStore
from dbplugin.url import ConnectionStringError, DatabaseAddress, parse_address
from dbplugin.writer import DatabaseWriter, StoreResult
from scmaster3.config import Config, ConfigError, ConfigLayout
from scmaster3.datamodel import DatabaseProvideMessage, Message, Notifier
from scmaster3.plugins import CONFIG_PREFIX, DataMessage, MasterPlugin, PluginError

log = logging.getLogger("dbplugin")

CONNECT_ATTEMPTS = 11  # as SeisComP3: eleven tries, one second apart, then the start fails
CONNECT_INTERVAL = 1.0


class DbPlugin(MasterPlugin):
    name = "dbplugin"

    def __init__(self, layout: ConfigLayout | None = None, connect_interval: float = CONNECT_INTERVAL) -> None:
        self._layout = layout or ConfigLayout.from_environment()
        self._connect_interval = connect_interval
        self._writer: DatabaseWriter | None = None
        self._announcement: DatabaseProvideMessage | None = None
        self._last_report = time.monotonic()

    def init(self, config: Config, prefix: str = CONFIG_PREFIX) -> None:
        key = prefix + "dbPlugin."
        try:
            driver = config.get_string(key + "dbDriver", "")
            write = config.get_string(key + "writeConnection", "")
            read = config.get_string(key + "readConnection", "")
            strict = config.get_bool(key + "strictVersionCheck", True)
        except ConfigError as exc:
            raise PluginError(f"dbplugin: {exc}") from exc
        if not driver:
            raise PluginError(f"dbplugin: {key}dbDriver is not set")
        if not write:
            raise PluginError(f"dbplugin: {key}writeConnection is not set")
        try:
            address = parse_address(write, service=driver, expand_path=self._expand)
            announced = parse_address(read, service=driver, expand_path=self._expand) if read else None
        except ConnectionStringError as exc:
            raise PluginError(f"dbplugin: {exc}") from exc
        if announced is None:
            log.warning("%sreadConnection is not set: clients are told of no database", key)
        else:
            # SQLite paths are announced resolved: a client would resolve placeholders and
            # relative paths against its own directories.
            parameters = announced.url.database if announced.service == "sqlite3" else announced.parameters
            self._announcement = DatabaseProvideMessage(name=announced.service, parameters=parameters)
        self._writer = self._open(address, strict)

    def _expand(self, path: str) -> str:
        return str(self._layout.resolve_path(path))

    def _open(self, address: DatabaseAddress, strict: bool) -> DatabaseWriter:
        if address.service == "sqlite3":
            try:
                ensure_sqlite_database(address)
            except (OSError, sa.exc.SQLAlchemyError) as exc:
                raise PluginError(f"dbplugin: cannot create {address.url.database}: {exc}") from exc
        engine = create_engine(address)
        schema = build_schema(engine.dialect.name, address.column_prefix)
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                with engine.connect() as connection:
                    found = read_schema_version(connection, schema)
                break
            except SchemaVersionError as exc:
                engine.dispose()
                raise PluginError(f"dbplugin: {address.seiscomp_url()}: {exc}") from exc
            except sa.exc.DBAPIError as exc:
                log.warning("dbplugin: cannot connect to %s (attempt %d of %d): %s",
                            _safe(address), attempt, CONNECT_ATTEMPTS, str(exc.orig or exc).splitlines()[0])
                if attempt == CONNECT_ATTEMPTS:
                    engine.dispose()
                    raise PluginError(f"dbplugin: cannot connect to {_safe(address)}") from exc
                time.sleep(self._connect_interval)
        try:
            version = check_schema_version(found, strict)
        except SchemaVersionError as exc:
            engine.dispose()
            raise PluginError(f"dbplugin: {_safe(address)}: {exc}") from exc
        if found is None:
            log.warning("dbplugin: %s has no Meta table: assuming schema 0.0", _safe(address))
        store = NotifierStore(build_schema(engine.dialect.name, address.column_prefix, version), version)
        writer = DatabaseWriter(engine, store)
        writer.start()
        log.info("dbplugin: storing into %s (schema %s)", _safe(address), version)
        return writer

    def process(self, message: DataMessage) -> Awaitable[StoreResult] | None:
        notifiers = _notifiers(message.payload)
        if not notifiers or self._writer is None:
            return None
        label = f"message from {message.private_sender_group} to {message.destination}"
        return self._writer.enqueue(notifiers, label)

    @property
    def unreachable(self) -> bool:
        """Whether messages are being held because the database cannot be reached."""
        return self._writer is not None and self._writer.unreachable

    def service_message(self) -> Message | None:
        return self._announcement

    def state_of_health(self) -> str:
        """Adds, updates, deletes and errors per second since the previous report."""
        if self._writer is None:
            return ""
        now = time.monotonic()
        elapsed, self._last_report = now - self._last_report, now
        counts = self._writer.take_counts()
        if elapsed <= 0:
            return ""
        rates = {name: counts[key] / elapsed for name, key in
                 (("dbadds", "add"), ("dbupdates", "update"), ("dbdeletes", "remove"), ("dberrors", "error"))}
        return "".join(f"{name}={rate:g}&" for name, rate in rates.items())

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None


def _notifiers(payload: Message | None) -> list[Notifier]:
    attachments = getattr(payload, "attachments", None) or ()
    return [item for item in attachments if isinstance(item, Notifier) and item.object is not None]


def _safe(address: DatabaseAddress) -> str:
    """The address without its password, for logs."""
    return address.url.render_as_string(hide_password=True)


def create_plugin() -> DbPlugin:
    return DbPlugin()
