"""Relay rate and latency of the mediator: one module -> scmaster3 -> one subscriber.

Every party is a process of its own, as in a SeisComP3 installation:

* the bus: ``spreadbusd`` (``--setup separate``, the default), or the bus inside the
  ``scmaster3`` process (``--setup inprocess``), or any running Spread daemon given with
  ``--daemon host:port`` (a real Spread 4.4 daemon, say);
* the mediator: ``scmaster3 -H`` (or ``scmaster3 --bind`` for the in-process bus), without
  plugins or with the no-op plugin of this file (``NoopPlugin``, loaded by name);
* the publisher: the pure-Python ``spread`` client, admitted with primary group PICK; it
  sends pre-encoded NetworkMessages to the mediator's private group;
* the subscriber: an asyncio bus client (``spreadbus.aio``), admitted as LISTENER_GROUP
  and subscribed to PICK, which only counts frames and notes when they arrived.

The payload is the Pick ADD notifier message that scdispatch sent in the golden capture
(binary, zlib: 283 bytes of data; the NetworkMessage is 335 bytes).

* rate: N messages unthrottled; rate = (received - 1) / time from the first to the last
  received message, as in ``golden/sc3/bench/baseline.tsv``; ``lost`` counts messages that
  did not arrive (must be 0: a burst must never cost the mediator its session).
* latency: messages paced at ``--rate`` per second; latency = arrival at the subscriber -
  send time at the publisher (one monotonic clock: both run on this machine).

Run from the top of the checkout::

    .venv/bin/python bench/mediator_relay.py [--messages 20000] [--rate 2000] [--setup separate|inprocess]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scmaster3.plugins import MasterPlugin  # noqa: E402
from scmaster3.protocol import (  # noqa: E402
    MASTER_GROUP,
    SERVICE_TYPE,
    MessageType,
    NetworkMessage,
    ServiceMessage,
    decode_message,
)
from spreadbus import wire  # noqa: E402

PICK_PAYLOAD = "golden/sc3/payloads/03_scdispatch_add_binary_m04_c2s_DATA_MSG_BINARY_PICK.body.zlib"


class NoopPlugin(MasterPlugin):
    """Accepts every message without looking at it: the cost of the plugin pipeline alone."""

    name = "noop"

    def process(self, message) -> None:
        return None


def create_noop_plugin() -> MasterPlugin:
    return NoopPlugin()


class SlowPlugin(MasterPlugin):
    """Settles one message per 1/rate seconds, like a database that stores ``rate`` messages a
    second (without blocking the event loop, as a plugin must not)."""

    name = "slow"

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0

    def process(self, message):
        loop = asyncio.get_running_loop()
        self.next_slot = max(self.next_slot, loop.time()) + self.interval
        future = loop.create_future()
        loop.call_at(self.next_slot, future.set_result, None)
        return future


def create_slow_plugin() -> MasterPlugin:
    return SlowPlugin(float(os.environ.get("SCMASTER3_BENCH_SLOW_RATE", "700")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect_request(private_group: str, primary: str) -> bytes:
    return ServiceMessage(
        MessageType.CONNECT_GROUP_MSG,
        destination=MASTER_GROUP,
        data=f"&privategroup={private_group}&programname=bench&".encode(),
        private_sender_group=private_group,
        protocol_version="1.1",
        client_type=0,
        client_priority=0,
        peer_group=primary,
    ).encode()


def admit(mbox, primary: str, timeout: float = 1.0) -> str:
    """Handshake with the mediator; returns its private group. TimeoutError if no answer."""
    mbox.multicast(SERVICE_TYPE, MASTER_GROUP, connect_request(mbox.private_group, primary), -1)
    deadline = time.monotonic() + timeout
    while True:
        message = mbox.receive(max(deadline - time.monotonic(), 0.001))
        if getattr(message, "msg_type", 0) < 0 and message.msg_type != -1:
            body = decode_message(message.message, message.msg_type)
            if body.destination == mbox.private_group:
                if body.type != MessageType.CONNECT_GROUP_OK_MSG:
                    raise RuntimeError(f"not admitted: {body}")
                return message.sender


def publisher(address: str, count: int, rate: float, ready, go, results) -> None:
    from spreadbus import client as spread

    payload = (Path(os.environ["SCMASTER3_SHARED"]) / PICK_PAYLOAD).read_bytes()
    mbox = spread.connect(address, "bench_pub", timeout=5)
    mbox.join(MASTER_GROUP)
    master = admit(mbox, "PICK", timeout=5)
    if os.environ.get("SCMASTER3_BENCH_UNIQUE"):
        # a database stores each pick once: every message adds a pick of its own
        bodies = [
            NetworkMessage(1, "PICK", data=data, private_sender_group=mbox.private_group).encode()
            for data in unique_picks(payload, count)
        ]
    else:
        bodies = [NetworkMessage(1, "PICK", data=payload, private_sender_group=mbox.private_group).encode()]
    ready.set()
    go.wait()
    sent = []
    start = time.monotonic()
    for n in range(count):
        if rate:
            due = start + n / rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.001))
        sent.append(time.monotonic())
        mbox.multicast(SERVICE_TYPE, master, bodies[n % len(bodies)], 1)
    results.send((len(bodies[0]), sent))
    time.sleep(1)
    mbox.disconnect()


def unique_picks(payload: bytes, count: int) -> list[bytes]:
    """``count`` copies of the golden Pick ADD payload, each with a publicID of its own."""
    from scmaster3.io.payload import decode_payload, encode_payload

    message = decode_payload(payload, 0)
    pick = message.attachments[0].object
    datas = []
    for n in range(count):
        pick.publicID = f"Pick/bench/{os.getpid()}/{n}"
        datas.append(encode_payload(message, 0))
    return datas


async def subscribe(address: str, count: int, ready, go, idle: float) -> list[float]:
    from spreadbus.aio import BusConnection

    connection = await BusConnection.connect(address, "bench_sub")
    connection.join(MASTER_GROUP)
    connection.multicast(
        SERVICE_TYPE, MASTER_GROUP, connect_request(connection.private_group, "LISTENER_GROUP"), -1
    )
    while True:
        frame = await connection.receive_frame()
        if (
            frame.header.type & wire.REGULAR_MESS
            and frame.header.msg_type == MessageType.CONNECT_GROUP_OK_MSG
        ):
            break
    connection.join("PICK")
    arrivals: list[float] = []
    done = asyncio.get_running_loop().create_future()

    def frames(batch: list[wire.Frame]) -> None:
        now = time.monotonic()
        for frame in batch:
            if frame.header.type & wire.REGULAR_MESS and frame.header.msg_type == 1:
                arrivals.append(now)
        if len(arrivals) >= count and not done.done():
            done.set_result(None)

    connection.set_frame_handler(frames)
    await asyncio.sleep(0.2)  # the join is in place
    ready.set()
    go.set()
    while not done.done():
        before = len(arrivals)
        try:
            await asyncio.wait_for(asyncio.shield(done), idle)
        except TimeoutError:
            if len(arrivals) == before:
                break  # nothing more is coming
    await connection.disconnect()
    return arrivals


def run_once(address: str, count: int, rate: float, idle: float = 5.0) -> dict:
    context = multiprocessing.get_context("spawn")
    pub_ready, go = context.Event(), context.Event()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=publisher, args=(address, count, rate, pub_ready, go, sender))
    process.start()
    pub_ready.wait(30)
    sub_ready = multiprocessing.Event()
    arrivals = asyncio.run(subscribe(address, count, sub_ready, go, idle=idle))
    size, sent = receiver.recv()
    process.join(10)
    received = len(arrivals)
    result = {"size": size, "received": received, "lost": count - received}
    if received > 1:
        result["rate"] = (received - 1) / (arrivals[-1] - arrivals[0])
        latencies = sorted((a - s) * 1000 for a, s in zip(arrivals, sent, strict=False))
        result["p50"] = statistics.median(latencies)
        result["p99"] = latencies[int(len(latencies) * 0.99) - 1]
    return result


def wait_for_mediator(address: str, process: subprocess.Popen | None) -> None:
    from spreadbus import client as spread

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(process.stdout.read())
        try:
            mbox = spread.connect(address, "bench_probe", timeout=2)
        except spread.error:
            time.sleep(0.2)
            continue
        try:
            mbox.join(MASTER_GROUP)
            admit(mbox, "LISTENER_GROUP")
            return
        except TimeoutError:
            pass
        finally:
            mbox.disconnect()
    raise RuntimeError("the mediator did not answer")


def start_setup(
    setup: str, plugin: str | None, daemon: str | None, workdir: str
) -> tuple[str, list[subprocess.Popen]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    processes = []
    config = os.devnull
    if plugin == "dbplugin":
        # the default dbplugin setup: an SQLite file created with the SeisComP3 schema
        config = os.path.join(workdir, "scmaster.cfg")
        with open(config, "w") as file:
            file.write(
                "plugins = dbplugin\nplugins.dbPlugin.dbDriver = sqlite3\n"
                f"plugins.dbPlugin.writeConnection = {workdir}/seiscomp3.sqlite\n"
            )
    mediator = [
        sys.executable,
        "-m",
        "scmaster3.cli",
        "--console",
        "--verbosity",
        "1",
        "--config-file",
        config,
    ]
    if plugin and plugin != "dbplugin":
        mediator += ["--plugins", f"bench.mediator_relay:create_{plugin}_plugin"]
    if daemon is not None:
        host, _, port = daemon.rpartition(":")
        address = f"{port}@{host}"
        mediator += ["-H", daemon]
    elif setup == "separate":
        port = free_port()
        address = f"{port}@127.0.0.1"
        bus = [sys.executable, "-m", "spreadbus.daemon", "--port", str(port), "--bind", "127.0.0.1"]
        bus += ["--unix-dir", workdir, "--log-level", "WARNING"]
        processes.append(subprocess.Popen(bus, env=env, cwd=ROOT))
        mediator += ["-H", f"127.0.0.1:{port}"]
    else:
        port = free_port()
        address = f"{port}@127.0.0.1"
        mediator += ["--bind", f"127.0.0.1:{port}"]
    time.sleep(0.5)
    master = subprocess.Popen(
        mediator, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    processes.append(master)
    wait_for_mediator(address, master)
    return address, processes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=2000.0, help="paced rate of the latency run")
    parser.add_argument("--latency-messages", type=int, default=5000)
    parser.add_argument("--setup", choices=("separate", "inprocess"), default="separate")
    parser.add_argument("--daemon", help="host:port of a running Spread daemon to use instead")
    parser.add_argument(
        "--dbplugin",
        action="store_true",
        help="instead: one unthrottled burst of --messages distinct picks stored into SQLite by the dbplugin",
    )
    parser.add_argument(
        "--slow-plugin",
        type=float,
        metavar="RATE",
        help="instead: one unthrottled burst of --messages through a plugin that stores RATE msg/s",
    )
    args = parser.parse_args()
    os.environ.setdefault("SCMASTER3_SHARED", str(ROOT.parent / "shared"))
    where = args.daemon or args.setup
    if args.dbplugin:
        os.environ["SCMASTER3_BENCH_UNIQUE"] = "1"
        with tempfile.TemporaryDirectory() as workdir:
            address, processes = start_setup(args.setup, "dbplugin", args.daemon, workdir)
            try:
                burst = run_once(address, args.messages, 0, idle=30.0)
                paced = run_once(address, args.latency_messages, args.rate)
            finally:
                for process in reversed(processes):
                    process.terminate()
                    process.wait(10)
        print(
            f"{where}, dbplugin on SQLite: burst of {args.messages} x {burst['size']} B: received "
            f"{burst['received']}, lost {burst['lost']}, {burst.get('rate', 0):,.0f} msg/s, p99 "
            f"{burst.get('p99', 0):.1f} ms | paced {args.rate:,.0f}/s: p50 {paced.get('p50', 0):.2f} ms, "
            f"p99 {paced.get('p99', 0):.2f} ms, lost {paced['lost']}"
        )
        return
    if args.slow_plugin:
        os.environ["SCMASTER3_BENCH_SLOW_RATE"] = str(args.slow_plugin)
        with tempfile.TemporaryDirectory() as workdir:
            address, processes = start_setup(args.setup, "slow", args.daemon, workdir)
            try:
                burst = run_once(address, args.messages, 0, idle=30.0)
            finally:
                for process in reversed(processes):
                    process.terminate()
                    process.wait(10)
        print(
            f"{where}, plugin at {args.slow_plugin:,.0f} msg/s: burst of {args.messages} x {burst['size']} B: "
            f"received {burst['received']}, lost {burst['lost']}, {burst.get('rate', 0):,.0f} msg/s"
        )
        return
    for plugin in (None, "noop"):
        with tempfile.TemporaryDirectory() as workdir:
            address, processes = start_setup(args.setup, plugin, args.daemon, workdir)
            try:
                burst = run_once(address, args.messages, 0)
                paced = run_once(address, args.latency_messages, args.rate)
            finally:
                for process in reversed(processes):
                    process.terminate()
                    process.wait(10)
        label = f"{where}, {'no-op plugin' if plugin else 'no plugin'}"
        print(
            f"{label:32s} unthrottled {args.messages} x {burst['size']} B: {burst.get('rate', 0):8,.0f} msg/s, "
            f"lost {burst['lost']}, p99 {burst.get('p99', 0):7.1f} ms | "
            f"paced {args.rate:,.0f}/s: p50 {paced.get('p50', 0):.2f} ms, p99 {paced.get('p99', 0):.2f} ms, "
            f"lost {paced['lost']}"
        )


if __name__ == "__main__":
    main()
