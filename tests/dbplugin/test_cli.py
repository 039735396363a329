"""scdbinit3 on the three backends."""

import logging
import subprocess
import sys

import sqlalchemy as sa

from dbplugin.cli import main
from dbplugin.engine import create_engine
from dbplugin.schema import build_schema, read_schema_version
from dbplugin.url import parse_address
from scmaster3.datamodel.description import Version


def test_creates_checks_and_refuses_to_overwrite(empty_database, caplog):
    caplog.set_level(logging.INFO)
    url = empty_database.seiscomp_url
    assert main(["-d", url]) == 0
    address = parse_address(url)
    engine = create_engine(address)
    with engine.connect() as connection:
        assert read_schema_version(connection, build_schema(engine.dialect.name)) == Version(0, 11)
    engine.dispose()
    assert main(["-d", url, "--check"]) == 0
    assert "schema version 0.11" in caplog.text
    if empty_database.service != "sqlite3":
        assert main(["-d", url]) == 1
        assert "already has a schema" in caplog.text


def test_check_reports_an_older_database(tmp_path, caplog):
    path = tmp_path / "old.sqlite"
    assert main(["-d", f"sqlite3://{path}"]) == 0
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE Meta SET value='0.10' WHERE name='Schema-Version'")
    engine.dispose()
    assert main(["-d", f"sqlite3://{path}", "--check"]) == 1
    assert "0.10 found, 0.11 expected" in caplog.text


def test_console_script_is_installed(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dbplugin.cli", "-d", "oracle://x"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown database driver 'oracle'" in result.stderr
