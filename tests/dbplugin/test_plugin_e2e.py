"""The dbplugin in the mediator, end to end: modules on a real bus, a real database behind it."""

import threading
import time

import pytest
import sqlalchemy as sa

from dbplugin.cli import main as scdbinit
from dbplugin.engine import create_engine
from dbplugin.plugin import DbPlugin
from dbplugin.schema import build_schema, create_schema
from dbplugin.url import parse_address
from scmaster3.client import Connection
from scmaster3.config import Config, ConfigLayout
from scmaster3.datamodel import CLASSES, DatabaseProvideMessage, Notifier, NotifierMessage, Time
from scmaster3.io.payload import decode_payload
from scmaster3.plugins import PluginError
from scmaster3.protocol import content_type_of
from tests.dbplugin.private_server import INSTALL, SERVER, PrivateMariaDB
from tests.dbplugin.proxy import CuttableProxy
from tests.scmaster3.test_mediator_e2e import MediatorThread, start_bus


def dbplugin_config(driver: str, write: str, read: str | None = None, strict: bool = True) -> Config:
    config = Config()
    config.set("plugins.dbPlugin.dbDriver", [driver])
    config.set("plugins.dbPlugin.writeConnection", [write])
    if read is not None:
        config.set("plugins.dbPlugin.readConnection", [read])
    config.set("plugins.dbPlugin.strictVersionCheck", ["true" if strict else "false"])
    return config


def plugin_for(config: Config, tmp_path) -> DbPlugin:
    plugin = DbPlugin(ConfigLayout(root=tmp_path, home=tmp_path), connect_interval=0.05)
    plugin.init(config)
    return plugin


def pick_message(number: int) -> NotifierMessage:
    pick = CLASSES["Pick"](
        publicID=f"Pick/e2e/{number}",
        time=CLASSES["TimeQuantity"](value=Time(1577836800 + number, 0)),
        waveformID=CLASSES["WaveformStreamID"](networkCode="GE", stationCode="STA01"),
    )
    return NotifierMessage(attachments=[Notifier(parentID="EventParameters", operation="add", object=pick)])


def stored_picks(address) -> list[str]:
    engine = create_engine(address)
    schema = build_schema(engine.dialect.name, address.column_prefix)
    pick = schema.class_tables["Pick"]
    query = (
        sa.select(schema.public_id_column)
        .join(pick, pick.c._oid == schema.public_object.c._oid)
        .order_by(schema.public_object.c._oid)
    )
    with engine.connect() as connection:
        picks = list(connection.execute(query).scalars())
    engine.dispose()
    return picks


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def bus(tmp_path_factory):
    daemon = start_bus(tmp_path_factory)
    yield daemon
    daemon.stop()


def received_pick_ids(subscriber: Connection, count: int) -> list[str]:
    ids = []
    while len(ids) < count:
        message = subscriber.receive(timeout=20)
        assert message is not None, f"only {len(ids)} of {count} messages relayed"
        if message.type <= 0:
            continue  # membership and other service notices
        payload = decode_payload(message.data, content_type_of(message.type))
        ids.extend(n.object.publicID for n in payload.attachments)
    return ids


def test_stored_before_relay_and_database_announced(bus, tmp_path):
    path = tmp_path / "seiscomp3.sqlite"
    plugin = plugin_for(dbplugin_config("sqlite3", str(path), read="@ROOTDIR@/seiscomp3.sqlite"), tmp_path)
    assert path.exists()  # created on first start with the SeisComP3 schema
    assert plugin.service_message() == DatabaseProvideMessage(name="sqlite3", parameters=str(path))
    mediator = MediatorThread(bus.port, plugins=[plugin]).start()
    server = f"127.0.0.1:{bus.port}"
    try:
        mediator.wait_connected()
        with Connection(server, "listener", subscriptions=["PICK"]) as subscriber, \
                Connection(server, "picker", "PICK") as publisher:
            assert subscriber.wait_database() == publisher.wait_database()
            assert subscriber.database.url == f"sqlite3://{path}"
            for number in range(20):
                publisher.send(pick_message(number))
            publisher.sync()
            # everything the sync answer follows is committed already
            assert stored_picks(parse_address(str(path), service="sqlite3")) == [f"Pick/e2e/{n}" for n in range(20)]
            assert received_pick_ids(subscriber, 20) == [f"Pick/e2e/{n}" for n in range(20)]
            report = dict(item.split("=") for item in plugin.state_of_health().strip("&").split("&"))
            assert set(report) == {"dbadds", "dbupdates", "dbdeletes", "dberrors"}
            assert float(report["dbadds"]) > 0 and float(report["dberrors"]) == 0
    finally:
        mediator.close()


def send_through_an_outage(bus_port: int, plugin: DbPlugin, take_down, bring_back) -> None:
    """300 picks through the mediator; the database goes away at the 100th and is back at the
    200th. Every message is relayed once, in order, and none while the database is away."""
    total, down_at, back_at = 300, 100, 200
    mediator = MediatorThread(bus_port, plugins=[plugin]).start()
    server = f"127.0.0.1:{bus_port}"
    try:
        mediator.wait_connected()
        with Connection(server, "listener", subscriptions=["PICK"]) as subscriber, \
                Connection(server, "picker", "PICK") as publisher:
            received: list[str] = []
            reader = threading.Thread(target=lambda: received.extend(received_pick_ids(subscriber, total)))
            reader.start()
            for number in range(total):
                if number == down_at:
                    take_down()
                if number == back_at:
                    # the database is away: what was sent since is held, not relayed
                    wait_until(lambda: plugin.unreachable)
                    relayed_while_down = list(received)
                    bring_back()
                publisher.send(pick_message(number))
            reader.join(60)
            assert received == [f"Pick/e2e/{n}" for n in range(total)]
            assert relayed_while_down == [f"Pick/e2e/{n}" for n in range(len(relayed_while_down))]
            assert len(relayed_while_down) <= down_at
    finally:
        mediator.close()


@pytest.mark.parametrize("empty_database", ["postgresql", "mysql"], indirect=True)
def test_database_unreachable_under_traffic(bus, empty_database, tmp_path):
    """The network to the server is cut (a relay in front of it closes every connection)."""
    address = parse_address(empty_database.parameters, service=empty_database.service)
    engine = create_engine(address)
    create_schema(engine, build_schema(engine.dialect.name))
    engine.dispose()
    proxy = CuttableProxy(address.url.host, address.url.port or 5432)
    proxy.start()
    user, _, rest = empty_database.parameters.partition("@")
    proxied = f"{user}@127.0.0.1:{proxy.port}/{rest.partition('/')[2]}"
    try:
        plugin = plugin_for(dbplugin_config(empty_database.service, proxied), tmp_path)
        send_through_an_outage(bus.port, plugin, proxy.cut, proxy.start)
    finally:
        proxy.cut()
    assert stored_picks(address) == [f"Pick/e2e/{n}" for n in range(300)]


@pytest.mark.skipif(INSTALL is None or SERVER is None, reason="no MariaDB server binaries on this machine")
def test_database_server_stopped_and_started_under_traffic(bus, tmp_path):
    """The server process itself exits and is started again on its data directory."""
    server = PrivateMariaDB(tmp_path / "mariadb")
    server.install()
    server.start()
    try:
        server.execute("CREATE DATABASE seiscomp3 CHARACTER SET utf8 COLLATE utf8_bin")
        connection = f"root:@127.0.0.1:{server.port}/seiscomp3"
        assert scdbinit(["-d", f"mysql://{connection}"]) == 0
        plugin = plugin_for(dbplugin_config("mysql", connection), tmp_path)
        send_through_an_outage(bus.port, plugin, server.stop, server.start)
        assert stored_picks(parse_address(connection, service="mysql")) == [f"Pick/e2e/{n}" for n in range(300)]
    finally:
        server.stop()


def test_start_refused_for_an_older_schema(tmp_path):
    path = tmp_path / "old.sqlite"
    plugin_for(dbplugin_config("sqlite3", str(path)), tmp_path)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE Meta SET value='0.10' WHERE name='Schema-Version'")
    engine.dispose()
    with pytest.raises(PluginError, match="0.10 found, 0.11 expected"):
        plugin_for(dbplugin_config("sqlite3", str(path)), tmp_path)
    relaxed = plugin_for(dbplugin_config("sqlite3", str(path), strict=False), tmp_path)
    assert relaxed.service_message() is None


def test_configuration_errors_name_the_key(tmp_path):
    config = Config()
    with pytest.raises(PluginError, match="plugins.dbPlugin.dbDriver is not set"):
        DbPlugin(ConfigLayout(root=tmp_path, home=tmp_path)).init(config)
    config.set("plugins.dbPlugin.dbDriver", ["mysql"])
    with pytest.raises(PluginError, match="writeConnection is not set"):
        DbPlugin(ConfigLayout(root=tmp_path, home=tmp_path)).init(config)


def test_unreachable_server_refuses_start_after_retries(tmp_path):
    proxy = CuttableProxy("127.0.0.1", 9)
    proxy.start()
    proxy.cut()  # a port on which nothing listens
    with pytest.raises(PluginError, match="cannot connect"):
        plugin_for(dbplugin_config("postgresql", f"sysop:sysop@127.0.0.1:{proxy.port}/none"), tmp_path)
