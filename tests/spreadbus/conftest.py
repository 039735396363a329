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

from spreadbus import wire


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


class RawClient:
    """A blocking test client over a raw socket, speaking through ``spreadbus.wire`` only."""

    wire = wire

    def __init__(self, sock: socket.socket, private_group: bytes, byteorder: str = "little") -> None:
        self.sock = sock
        self.private_group = private_group
        self.byteorder = byteorder
        self.parser = wire.MessageParser(from_daemon=True, max_groups=None)
        self.backlog: list[wire.Frame] = []  # frames read past while waiting in sync()

    @classmethod
    def connect(
        cls,
        daemon,
        name: str = "",
        membership: bool = True,
        byteorder: str = "little",
        unix: bool = False,
        timeout: float = 10.0,
        rcvbuf: int | None = None,
    ) -> RawClient:
        """A session on ``daemon``; ``rcvbuf`` sets the socket's receive buffer before the
        connect (a small one makes a slow reader whose backlog stays in the daemon)."""
        sock = socket.socket(socket.AF_UNIX if unix else socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(daemon.unix_path if unix else ("127.0.0.1", daemon.port))
        sock.sendall(wire.encode_connect(name, membership=membership))
        buf = b""
        while (result := wire.decode_auth_list(buf)) is None:
            buf += _recv_some(sock)
        buf = buf[result[1] :]
        sock.sendall(wire.encode_auth_choice())
        while (accept := wire.decode_accept(buf)) is None:
            buf += _recv_some(sock)
        client = cls(sock, accept[0].private_group, byteorder)
        client.parser.feed(buf[accept[1] :])
        return client

    def send(self, service: int, groups, data: bytes = b"", msg_type: int = 0) -> None:
        self.sock.sendall(
            self.wire.encode_message(service, self.private_group, groups, data, msg_type, self.byteorder)
        )

    def join(self, group: str) -> None:
        self.send(self.wire.JOIN_MESS, [group])

    def leave(self, group: str) -> None:
        self.send(self.wire.LEAVE_MESS, [group])

    def disconnect(self) -> None:
        self.send(self.wire.KILL_MESS, [self.private_group])
        self.sock.close()

    def receive(self):
        """The next frame from the daemon (``wire.Frame``); AssertionError on close."""
        if self.backlog:
            return self.backlog.pop(0)
        while (frame := self.parser.next_frame()) is None:
            self.parser.feed(_recv_some(self.sock))
        return frame

    def sync(self) -> None:
        """Round trip through the daemon: everything sent before has been processed. The
        frames that arrive meanwhile stay for ``receive()``; the round trip's own does not."""
        self.send(self.wire.FIFO_MESS, [self.private_group], b"sync", msg_type=0x7FFF)
        arrived = []
        while True:
            while (frame := self.parser.next_frame()) is None:
                self.parser.feed(_recv_some(self.sock))
            if frame.header.msg_type == 0x7FFF and frame.header.sender_name == self.private_group:
                self.backlog.extend(arrived)
                return
            arrived.append(frame)

    def pending(self) -> bool:
        """Whether a frame is already here (without reading the socket)."""
        return bool(self.backlog) or self.parser.buffered > 0

    def expect_closed(self) -> bytes:
        """Read until the daemon closes; returns whatever arrived before."""
        data = b""
        try:
            while chunk := self.sock.recv(1 << 16):
                data += chunk
        except ConnectionResetError:
            pass
        return data

    def close(self) -> None:
        self.sock.close()


def _recv_some(sock: socket.socket) -> bytes:
    chunk = sock.recv(1 << 16)
    if not chunk:
        raise AssertionError("the daemon closed the connection")
    return chunk


@pytest.fixture(name="RawClient")
def raw_client_class() -> type[RawClient]:
    """The ``RawClient`` class (test modules cannot import from a conftest)."""
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
