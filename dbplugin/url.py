"""SeisComP3 database connection strings turned into SQLAlchemy URLs.

SeisComP3 names a database as ``service://parameters`` (``mysql://sysop:sysop@localhost/seiscomp3``)
or, in the dbplugin configuration, as a driver name (``plugins.dbPlugin.dbDriver``) plus the
parameters alone (``writeConnection = sysop:sysop@localhost/seiscomp3``). Without ``://`` the
service is ``mysql``. The parameters of the server databases are
``[user[:password]@]host[:port][/database][?key=value&...]``; for SQLite they are a file path.

The parsing keeps SeisComP3's defaults (user and password ``sysop``, host ``localhost``,
database ``seiscomp3``) and its quirks: the user part ends at the first ``@``, so a password
that contains ``@`` cannot be written, exactly as with SeisComP3's own drivers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import URL

SERVICES = ("mysql", "postgresql", "sqlite3")

# Alternative spellings met in operators' configurations: core.plugins names the driver
# library (dbmysql, dbpostgresql, dbsqlite3), and SQLAlchemy users write postgres/sqlite.
_SERVICE_ALIASES = {
    "dbmysql": "mysql",
    "mariadb": "mysql",
    "dbpostgresql": "postgresql",
    "postgres": "postgresql",
    "dbsqlite3": "sqlite3",
    "sqlite": "sqlite3",
}

# PostgreSQL's driver prefixes every attribute column with m_ (the names of the data model
# collide with SQL keywords there); the other two drivers use the plain names.
_DEFAULT_COLUMN_PREFIX = {"mysql": "", "postgresql": "m_", "sqlite3": ""}
_DEFAULT_PORT = {"mysql": 3306, "postgresql": None}


class ConnectionStringError(ValueError):
    """A database connection string that cannot be understood."""


@dataclass(frozen=True)
class DatabaseAddress:
    """One database as SeisComP3 addresses it, ready for SQLAlchemy."""

    service: str
    parameters: str
    url: URL
    column_prefix: str
    timeout: int | None = None
    debug: bool = False
    options: dict[str, str] = field(default_factory=dict)

    def seiscomp_url(self) -> str:
        """The address as SeisComP3 clients write it: ``service://parameters``."""
        return f"{self.service}://{self.parameters}"

    def connect_args(self) -> dict[str, object]:
        """Driver arguments that the URL cannot carry."""
        if self.service == "mysql" and self.timeout:
            return {"read_timeout": self.timeout}
        return {}


def normalize_service(name: str) -> str:
    """The SeisComP3 service name for a driver name, or ConnectionStringError."""
    service = _SERVICE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if service not in SERVICES:
        raise ConnectionStringError(
            f"unknown database driver {name!r}: expected one of {', '.join(SERVICES)}"
        )
    return service


def parse_address(
    connection: str,
    service: str | None = None,
    expand_path: Callable[[str], str] | None = None,
) -> DatabaseAddress:
    """Parse ``[service://]parameters``; ``service`` names the driver when the string has none.

    ``expand_path`` resolves SeisComP3's path placeholders (``@ROOTDIR@``...) in SQLite file
    names; by default only ``~`` is expanded. The result is made absolute.
    """
    if "://" in connection:
        scheme, _, parameters = connection.partition("://")
        if service is not None and normalize_service(scheme) != normalize_service(service):
            raise ConnectionStringError(
                f"connection {connection!r} names driver {scheme!r} but {service!r} is configured"
            )
        service = scheme
    else:
        parameters = connection
    resolved = normalize_service(service or "mysql")
    if resolved == "sqlite3":
        return _sqlite_address(parameters, expand_path)
    return _server_address(resolved, parameters)


def _sqlite_address(parameters: str, expand_path: Callable[[str], str] | None) -> DatabaseAddress:
    if not parameters:
        raise ConnectionStringError("an SQLite connection needs a file name")
    path = expand_path(parameters) if expand_path else os.path.expanduser(parameters)
    path = os.path.abspath(path)
    url = URL.create("sqlite", database=path)
    return DatabaseAddress("sqlite3", parameters, url, _DEFAULT_COLUMN_PREFIX["sqlite3"])


def _server_address(service: str, parameters: str) -> DatabaseAddress:
    rest, _, query = parameters.partition("?")
    user, password = "sysop", "sysop"
    if "@" in rest:
        credentials, _, rest = rest.partition("@")
        user, sep, pwd = credentials.partition(":")
        if sep:
            password = pwd
    hostport, _, database = rest.partition("/")
    host, sep, port_text = hostport.partition(":")
    port = _DEFAULT_PORT[service]
    if sep:
        try:
            port = int(port_text)
        except ValueError:
            raise ConnectionStringError(f"port {port_text!r} in {parameters!r} is not a number") from None
        if not 0 < port < 65536:
            raise ConnectionStringError(f"port {port} in {parameters!r} is out of range")
    options = _parse_query(query)
    timeout = None
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            raise ConnectionStringError(f"timeout {options['timeout']!r} is not a number") from None
    drivername = "mysql+pymysql" if service == "mysql" else "postgresql+psycopg2"
    url_query = {"charset": "utf8mb4"} if service == "mysql" else {}
    url = URL.create(
        drivername,
        username=user or None,
        password=password if user else None,
        host=host or "localhost",
        port=port,
        database=database or "seiscomp3",
        query=url_query,
    )
    return DatabaseAddress(
        service,
        parameters,
        url,
        options.get("column_prefix", _DEFAULT_COLUMN_PREFIX[service]),
        timeout=timeout,
        debug="debug" in options,
        options=options,
    )


def _parse_query(query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in query.split("&"):
        if item:
            key, _, value = item.partition("=")
            options[key] = value
    return options
