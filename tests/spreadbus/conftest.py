"""Fixtures for the bus: golden Spread traces and a running spreadbus daemon.

``spreadbusd`` yields a started in-process ``SpreadDaemon`` (TCP on an ephemeral port of
127.0.0.1, unix socket in a private temp dir); ``spreadbusd_factory`` starts more with other
options. Both run the daemon's event loop in a background thread, so tests (and other
people's tests) can use plain blocking sockets or a client library against ``.port`` /
``.unix_path``. ``spreadbusd_process`` runs the ``spreadbusd`` command as a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.spreadbus.sockets import RawClient


@dataclass
class TraceItem:
    """One line of a golden trace: a frame, an EOF or an ``# API`` record."""

    conn: str
    kind: str  # "OPEN" (new connection, api = "tcp" or "unix"), "C>D", "D>C", "API"
    data: bytes | None = None  # frame bytes; None for EOF / API
    eof: bool = False
    reset: bool = False
    api: str = ""
    api_args: dict = field(default_factory=dict)


def parse_trace(path: Path) -> list[TraceItem]:
    """The items of a golden trace file in file order (see golden/spread/README.md)."""
    items: list[TraceItem] = []
    reset_next = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# API "):
            _, _, conn, rest = line.split(" ", 3)
            call, _, payload = rest.partition(" {")
            items.append(TraceItem(conn, "API", api=call, api_args=json.loads("{" + payload)))
            continue
        if line.startswith("# ") and ": new client connection (" in line:
            conn = line[2:].split(":", 1)[0]
            items.append(TraceItem(conn, "OPEN", api=line.rsplit("(", 1)[1].rstrip(")")))
            continue
        if line.startswith("#"):
            if "connection reset" in line:
                reset_next = True
            continue
        if not line.strip():
            continue
        conn, direction, value = line.split(" ")
        if value == "EOF":
            items.append(TraceItem(conn, direction, eof=True, reset=reset_next))
        else:
            items.append(TraceItem(conn, direction, data=bytes.fromhex(value)))
        reset_next = False
    return items


@pytest.fixture(scope="session")
def golden_spread_dir(shared_dir: Path) -> Path:
    return shared_dir / "golden" / "spread"


@pytest.fixture(scope="session")
def golden_traces(golden_spread_dir: Path) -> dict[str, list[TraceItem]]:
    return {p.stem: parse_trace(p) for p in sorted(golden_spread_dir.glob("[0-9][0-9]_*.txt"))}


def _start_threaded(tmp_path_factory: pytest.TempPathFactory, **options):
    from spreadbus.daemon import ThreadedDaemon

    options.setdefault("unix_dir", str(tmp_path_factory.mktemp("spreadbus-unix")))
    daemon = ThreadedDaemon(**options)
    daemon.start()
    return daemon


@pytest.fixture
def spreadbusd(tmp_path_factory):
    """A running daemon named ``localhost`` on 127.0.0.1:<ephemeral> and its unix socket."""
    daemon = _start_threaded(tmp_path_factory)
    yield daemon
    daemon.stop()


@pytest.fixture
def spreadbusd_factory(tmp_path_factory):
    """Start daemons with other options (keyword arguments of ``SpreadDaemon``)."""
    started = []

    def start(**options):
        daemon = _start_threaded(tmp_path_factory, **options)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@dataclass
class DaemonProcess:
    process: subprocess.Popen
    port: int
    unix_path: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def spreadbusd_process(tmp_path):
    """The ``spreadbusd`` command as a subprocess on an ephemeral TCP port."""
    port = _free_port()
    unix_dir = tmp_path / "unix"
    unix_dir.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "spreadbus.daemon",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--unix-dir",
        str(unix_dir),
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                out = process.stdout.read().decode(errors="replace")
                pytest.fail(f"spreadbusd did not start: {out}")
            time.sleep(0.05)
    yield DaemonProcess(process, port, str(unix_dir / str(port)))
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(name="RawClient")
def raw_client_class() -> type[RawClient]:
    """The ``RawClient`` class."""
    return RawClient


@pytest.fixture
def raw_client(spreadbusd):
    """Factory of ``RawClient`` connected to the ``spreadbusd`` fixture; closed afterwards."""
    clients = []

    def connect(name: str = "", **options) -> RawClient:
        client = RawClient.connect(spreadbusd, name, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
