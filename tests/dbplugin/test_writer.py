"""The batching writer: order, refusals, and a database that goes away under traffic."""

import asyncio
import logging

import pytest
import sqlalchemy as sa

from dbplugin.engine import create_engine
from dbplugin.schema import build_schema, create_schema
from dbplugin.store import NotifierStore
from dbplugin.url import parse_address
from dbplugin.writer import DatabaseWriter
from scmaster3.datamodel import CLASSES, CURRENT_VERSION, Notifier
from tests.dbplugin.proxy import CuttableProxy


def pick_added(number: int) -> list:
    return [Notifier(parentID="EventParameters", operation="add", object=CLASSES["Pick"](publicID=f"Pick/{number}"))]


def stored_picks(engine, schema) -> list[str]:
    query = (
        sa.select(schema.public_id_column)
        .join(schema.class_tables["Pick"], schema.class_tables["Pick"].c._oid == schema.public_object.c._oid)
        .order_by(schema.public_object.c._oid)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def prepared(address):
    engine = create_engine(address)
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    return engine, schema


@pytest.fixture
def address(empty_database):
    return parse_address(empty_database.parameters, service=empty_database.service)


def test_messages_are_committed_in_order(address):
    engine, schema = prepared(address)

    async def run():
        writer = DatabaseWriter(engine, NotifierStore(schema, CURRENT_VERSION))
        writer.start()
        futures = [writer.enqueue(pick_added(n), f"message {n}") for n in range(300)]
        results = await asyncio.gather(*futures)
        await writer.close()
        return writer, results

    writer, results = asyncio.run(run())
    assert [r.stored for r in results] == [1] * 300
    assert stored_picks(engine, schema) == [f"Pick/{n}" for n in range(300)]
    assert writer.take_counts() == {"add": 300, "update": 0, "remove": 0, "error": 0}
    engine.dispose()


def test_a_refused_notifier_is_logged_and_counted_and_the_rest_stored(address, caplog):
    engine, schema = prepared(address)
    duplicate = pick_added(1) + pick_added(1) + pick_added(2)

    async def run():
        writer = DatabaseWriter(engine, NotifierStore(schema, CURRENT_VERSION))
        writer.start()
        first = writer.enqueue(pick_added(0), "first")
        middle = writer.enqueue(duplicate, "message from #scautopick#localhost to PICK")
        last = writer.enqueue(pick_added(3), "last")
        results = await asyncio.gather(first, middle, last)
        await writer.close()
        return writer, results

    with caplog.at_level(logging.ERROR, logger="dbplugin.writer"):
        writer, (first, middle, last) = asyncio.run(run())
    assert (first.stored, middle.stored, last.stored) == (1, 2, 1)
    assert len(middle.rejected) == 1 and "stored already" in middle.rejected[0][1]
    assert "message from #scautopick#localhost to PICK" in caplog.text
    assert stored_picks(engine, schema) == ["Pick/0", "Pick/1", "Pick/2", "Pick/3"]
    assert writer.take_counts() == {"add": 4, "update": 0, "remove": 0, "error": 1}
    engine.dispose()


@pytest.mark.parametrize("empty_database", ["mysql", "postgresql"], indirect=True)
def test_database_cut_under_traffic_loses_nothing(empty_database, address):
    engine, schema = prepared(address)
    engine.dispose()
    proxy = CuttableProxy(address.url.host, address.url.port or 5432)
    proxy.start()
    user, _, rest = empty_database.parameters.partition("@")
    database = rest.partition("/")[2]
    proxied = parse_address(f"{user}@127.0.0.1:{proxy.port}/{database}", service=empty_database.service)
    proxied_engine = create_engine(proxied)

    async def run():
        writer = DatabaseWriter(proxied_engine, NotifierStore(schema, CURRENT_VERSION), retry_interval=0.2)
        writer.start()
        futures = [writer.enqueue(pick_added(n), f"message {n}") for n in range(50)]
        await asyncio.gather(*futures)
        proxy.cut()
        futures += [writer.enqueue(pick_added(n), f"message {n}") for n in range(50, 100)]
        await asyncio.sleep(1.0)
        held = sum(not f.done() for f in futures[50:])
        assert writer.unreachable
        proxy.start()
        results = await asyncio.gather(*futures)
        await writer.close()
        return held, results

    held, results = asyncio.run(run())
    proxy.cut()
    assert held == 50
    assert [r.stored for r in results] == [1] * 100
    reference_engine = create_engine(address)
    assert stored_picks(reference_engine, schema) == [f"Pick/{n}" for n in range(100)]
    reference_engine.dispose()
