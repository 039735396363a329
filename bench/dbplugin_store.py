"""Notifier messages stored per second by the dbplugin writer, on each backend.

Two payloads: a Pick ADD (one notifier, one row) and an Origin ADD with 30 Arrivals (one
notifier, 31 rows). Each is submitted N times as fast as the writer accepts it, and the rate
is the number of messages committed per second of wall time. The writer batches whatever is
waiting into one transaction, so the figure is the store-before-relay capacity of the mediator.

    python bench/dbplugin_store.py                      # SQLite file, local PostgreSQL and MariaDB
    python bench/dbplugin_store.py --backends sqlite3 --messages 20000

Scratch databases are created on the servers (postgres@127.0.0.1:5432, root@127.0.0.1:3306)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

import psycopg2
import pymysql

from dbplugin.engine import create_engine
from dbplugin.schema import build_schema, create_schema
from dbplugin.store import NotifierStore
from dbplugin.url import parse_address
from dbplugin.writer import DatabaseWriter
from scmaster3.datamodel import CLASSES, CURRENT_VERSION, Notifier, Time


def pick_message(n: int) -> list[Notifier]:
    pick = CLASSES["Pick"](
        publicID=f"Pick/bench/{n}",
        time=CLASSES["TimeQuantity"](value=Time(1577836800 + n, 123456), uncertainty=0.1),
        waveformID=CLASSES["WaveformStreamID"](networkCode="GE", stationCode="STA01", channelCode="BHZ"),
        methodID="AIC",
        phaseHint=CLASSES["Phase"](code="P"),
        evaluationMode="automatic",
        creationInfo=CLASSES["CreationInfo"](agencyID="TEST", author="bench", creationTime=Time(1577836800, 0)),
    )
    return [Notifier(parentID="EventParameters", operation="add", object=pick)]


def origin_message(n: int) -> list[Notifier]:
    origin = CLASSES["Origin"](
        publicID=f"Origin/bench/{n}",
        time=CLASSES["TimeQuantity"](value=Time(1577836800 + n, 0)),
        latitude=CLASSES["RealQuantity"](value=52.38, uncertainty=2.1),
        longitude=CLASSES["RealQuantity"](value=13.06, uncertainty=1.9),
        depth=CLASSES["RealQuantity"](value=10.0),
        methodID="LOCSAT",
        evaluationMode="automatic",
    )
    for a in range(30):
        origin.add(CLASSES["Arrival"](pickID=f"Pick/bench/{n}/{a}", phase=CLASSES["Phase"](code="P"),
                                      distance=0.1 * a, azimuth=12.0 * a, weight=1.0))
    return [Notifier(parentID="EventParameters", operation="add", object=origin)]


def scratch_database(service: str, tmpdir: str) -> tuple[str, callable]:
    name = "sc3bench_" + uuid.uuid4().hex[:10]
    if service == "sqlite3":
        return f"sqlite3://{tmpdir}/{name}.sqlite", lambda: None
    if service == "postgresql":
        def admin(sql):
            c = psycopg2.connect(user="postgres", host="127.0.0.1", dbname="postgres")
            c.autocommit = True
            c.cursor().execute(sql)
            c.close()
        admin(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres:@127.0.0.1/{name}", lambda: admin(f'DROP DATABASE "{name}" WITH (FORCE)')

    def admin(sql):
        c = pymysql.connect(user="root", host="127.0.0.1", autocommit=True)
        c.cursor().execute(sql)
        c.close()
    admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_bin")
    return f"mysql://root:@127.0.0.1/{name}", lambda: admin(f"DROP DATABASE `{name}`")


async def measure(url: str, make, count: int) -> float:
    address = parse_address(url)
    engine = create_engine(address)
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    messages = [make(n) for n in range(count)]
    writer = DatabaseWriter(engine, NotifierStore(schema, CURRENT_VERSION))
    writer.start()
    start = time.perf_counter()
    futures = [writer.enqueue(m, "bench") for m in messages]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await writer.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite3", "postgresql", "mysql"])
    parser.add_argument("--messages", type=int, default=5000, help="Pick messages per backend")
    parser.add_argument("--origins", type=int, default=500, help="Origin+30 Arrival messages per backend")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        for service in args.backends:
            for label, make, count in (("pick", pick_message, args.messages),
                                       ("origin+30 arrivals", origin_message, args.origins)):
                url, drop = scratch_database(service, tmpdir)
                try:
                    rate = asyncio.run(measure(url, make, count))
                finally:
                    drop()
                print(f"{service:10s} {label:20s} {count:6d} messages  {rate:9.0f} msg/s")


if __name__ == "__main__":
    main()
