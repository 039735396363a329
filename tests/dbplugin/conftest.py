"""Fixtures of the database tests: a fresh database per test on every backend."""

import pytest

from tests.dbplugin.databases import BACKENDS, create_database, drop_database


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    database = create_database(request.param, tmp_path)
    yield database
    drop_database(database)
