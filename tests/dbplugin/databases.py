"""Fresh, empty databases on the three backends, addressed as SeisComP3 addresses them.

PostgreSQL and MariaDB are the real servers of this machine (``.ci/run`` starts them); each
test gets a database of its own that is dropped afterwards. The servers can be moved with
``SCMASTER3_TEST_POSTGRES`` (default ``postgres@127.0.0.1:5432``) and
``SCMASTER3_TEST_MYSQL`` (default ``root@127.0.0.1:3306``).
"""

import os
import uuid
from dataclasses import dataclass

import psycopg2
import pymysql

POSTGRES_SERVER = os.environ.get("SCMASTER3_TEST_POSTGRES", "postgres@127.0.0.1:5432")
MYSQL_SERVER = os.environ.get("SCMASTER3_TEST_MYSQL", "root@127.0.0.1:3306")
BACKENDS = ("sqlite3", "mysql", "postgresql")


@dataclass(frozen=True)
class TestDatabase:
    service: str
    parameters: str

    @property
    def seiscomp_url(self) -> str:
        return f"{self.service}://{self.parameters}"


def _split_server(server: str) -> tuple[str, str, int]:
    user, _, hostport = server.partition("@")
    host, _, port = hostport.partition(":")
    return user, host, int(port)


def _run_admin(service: str, statement: str) -> None:
    """One statement on the server's administrative connection, outside any transaction."""
    if service == "postgresql":
        user, host, port = _split_server(POSTGRES_SERVER)
        connection = psycopg2.connect(user=user, host=host, port=port, dbname="postgres")
        connection.autocommit = True
    else:
        user, host, port = _split_server(MYSQL_SERVER)
        connection = pymysql.connect(user=user, host=host, port=port, autocommit=True)
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        cursor.close()
    finally:
        connection.close()


def create_database(service: str, tmp_path) -> TestDatabase:
    name = "sc3test_" + uuid.uuid4().hex[:12]
    if service == "sqlite3":
        return TestDatabase("sqlite3", str(tmp_path / f"{name}.sqlite"))
    if service == "postgresql":
        _run_admin(service, f'CREATE DATABASE "{name}"')
        user, host, port = _split_server(POSTGRES_SERVER)
        return TestDatabase("postgresql", f"{user}:@{host}:{port}/{name}")
    # SeisComP3's setup creates its MySQL databases with this binary collation, which makes
    # publicIDs and codes compare case-sensitively.
    _run_admin(service, f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_bin")
    user, host, port = _split_server(MYSQL_SERVER)
    return TestDatabase("mysql", f"{user}:@{host}:{port}/{name}")


def drop_database(database: TestDatabase) -> None:
    name = database.parameters.rpartition("/")[2]
    if database.service == "postgresql":
        _run_admin("postgresql", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif database.service == "mysql":
        _run_admin("mysql", f"DROP DATABASE IF EXISTS `{name}`")
