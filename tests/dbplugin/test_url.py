import os

import pytest

from dbplugin.url import ConnectionStringError, parse_address


def test_mysql_full_string():
    address = parse_address("mysql://sysop:secret@db.example:3307/seiscomp3?timeout=5&column_prefix=x_")
    assert address.service == "mysql"
    assert address.url.drivername == "mysql+pymysql"
    assert (address.url.username, address.url.password) == ("sysop", "secret")
    assert (address.url.host, address.url.port, address.url.database) == ("db.example", 3307, "seiscomp3")
    assert address.column_prefix == "x_"
    assert address.connect_args() == {"read_timeout": 5}


def test_service_defaults_to_mysql_with_seiscomp_defaults():
    address = parse_address("localhost")
    assert address.service == "mysql"
    assert (address.url.username, address.url.password) == ("sysop", "sysop")
    assert (address.url.port, address.url.database) == (3306, "seiscomp3")
    assert address.column_prefix == ""


def test_dbplugin_form_driver_plus_parameters():
    address = parse_address("sysop:sysop@localhost/seiscomp3", service="postgresql")
    assert address.url.drivername == "postgresql+psycopg2"
    assert address.url.port is None
    assert address.column_prefix == "m_"
    assert address.seiscomp_url() == "postgresql://sysop:sysop@localhost/seiscomp3"


def test_user_without_password_keeps_default_password():
    address = parse_address("reader@localhost/db", service="mysql")
    assert (address.url.username, address.url.password, address.url.database) == ("reader", "sysop", "db")


def test_password_with_at_sign_splits_at_first_at_like_seiscomp():
    address = parse_address("u:p@ss@host/db", service="mysql")
    assert address.url.password == "p"
    # the rest after the first @ is taken as the host, as SeisComP3's drivers do
    assert address.url.host == "ss@host"


def test_sqlite_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    address = parse_address("sqlite3://db/seiscomp3.sqlite")
    assert address.url.drivername == "sqlite"
    assert address.url.database == os.path.join(str(tmp_path), "db", "seiscomp3.sqlite")
    assert parse_address("/var/lib/sc3.db", service="sqlite3").url.database == "/var/lib/sc3.db"


def test_sqlite_placeholder_expansion_is_delegated():
    address = parse_address("@ROOTDIR@/var/lib/x.db", service="sqlite3",
                            expand_path=lambda p: p.replace("@ROOTDIR@", "/opt/sc3"))
    assert address.url.database == "/opt/sc3/var/lib/x.db"


@pytest.mark.parametrize(
    ("connection", "service"),
    [
        ("oracle://u@h/db", None),
        ("u@h:notaport/db", "mysql"),
        ("u@h:70000/db", "mysql"),
        ("mysql://u@h/db", "postgresql"),
        ("", "sqlite3"),
        ("u@h/db?timeout=soon", "mysql"),
    ],
)
def test_bad_strings_are_refused_with_a_reason(connection, service):
    with pytest.raises(ConnectionStringError):
        parse_address(connection, service=service)


def test_driver_aliases():
    assert parse_address("u@h/db", service="dbpostgresql").service == "postgresql"
    assert parse_address("x.db", service="sqlite").service == "sqlite3"
