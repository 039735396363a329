"""Throughput and latency of spreadbusd with 1 KiB FIFO messages.

The daemon runs as its own process (``python -m spreadbus.daemon``); the load generator
runs in other processes and speaks the wire protocol over raw sockets, pipelined, so the
daemon is the bottleneck:

* ``1->1``: one sender multicasts N messages to a group with one receiver;
* ``1->10``: the same group with ten receivers (rate per receiver and in total);
* latency: one sender paced at 1,000 msg/s, one receiver; p50/p99 of send->receive time.

Usage::

    python bench/spread_throughput.py [--messages 100000] [--size 1024] [--daemon HOST:PORT]

With ``--daemon`` an already running daemon (e.g. the real Spread) is measured instead.
Only prints figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import select
import socket
import statistics
import subprocess
import sys
import time

from spreadbus import wire

GROUP = "bench"


def connect(address, name, membership=False):
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(wire.encode_connect(name, membership=membership))
    buf = b""
    while (result := wire.decode_auth_list(buf)) is None:
        buf += sock.recv(64)
    buf = buf[result[1] :]
    sock.sendall(wire.encode_auth_choice())
    while (accept := wire.decode_accept(buf)) is None:
        buf += sock.recv(64)
    return sock, accept[0].private_group


def join(sock, private_group, group):
    sock.sendall(wire.encode_message(wire.JOIN_MESS, private_group, [group]))


def frame_size(size):
    return wire.HEADER_LEN + wire.MAX_GROUP_NAME + size


def receiver(address, name, messages, size, ready, results):
    sock, me = connect(address, name)
    join(sock, me, GROUP)
    # A private message to oneself marks the moment the join is in effect.
    sock.sendall(wire.encode_message(wire.FIFO_MESS, me, [me], b"x"))
    marker = frame_size(1)
    got = b""
    while len(got) < marker:
        got += sock.recv(marker - len(got))
    ready.put(name)
    expected = messages * frame_size(size)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    received = sock.recv_into(view)
    first = time.perf_counter()
    while received < expected:
        n = sock.recv_into(view)
        if not n:
            break
        received += n
    last = time.perf_counter()
    results.put((name, received // frame_size(size), first, last))
    sock.close()


def sender(address, messages, size, start):
    sock, me = connect(address, "sender")
    payload = os.urandom(size)
    one = wire.encode_message(wire.FIFO_MESS, me, [GROUP], payload, 1)
    batch = one * 64
    start.wait()
    full, rest = divmod(messages, 64)
    for _ in range(full):
        sock.sendall(batch)
    sock.sendall(one * rest)
    time.sleep(0.5)
    sock.close()


def throughput(address, messages, size, receivers):
    ctx = multiprocessing.get_context("fork")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=receiver, args=(address, f"recv{i}", messages, size, ready, results))
        for i in range(receivers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=30)
    send = ctx.Process(target=sender, args=(address, messages, size, start))
    send.start()
    start.set()
    rows = [results.get(timeout=300) for _ in procs]
    send.join()
    for p in procs:
        p.join()
    first = min(r[2] for r in rows)
    last = max(r[3] for r in rows)
    counts = [r[1] for r in rows]
    elapsed = last - first
    per_receiver = min(counts) / elapsed
    return per_receiver, sum(counts) / elapsed, min(counts)


def latency(address, rate, seconds, size):
    rx, rx_me = connect(address, "latrx")
    join(rx, rx_me, GROUP)
    rx.sendall(wire.encode_message(wire.FIFO_MESS, rx_me, [rx_me], b"x"))
    need = frame_size(1)
    got = b""
    while len(got) < need:
        got += rx.recv(need - len(got))
    tx, tx_me = connect(address, "lattx")
    count = int(rate * seconds)
    padding = os.urandom(size - 8)
    delays = []
    parser = wire.MessageParser(from_daemon=True, max_groups=None)
    t0 = time.perf_counter()
    sent = 0
    while len(delays) < count:
        due = t0 + sent / rate
        if sent < count and time.perf_counter() >= due:
            stamp = time.perf_counter_ns().to_bytes(8, "little")
            tx.sendall(wire.encode_message(wire.FIFO_MESS, tx_me, [GROUP], stamp + padding))
            sent += 1
            continue
        wait = max(0.0, due - time.perf_counter()) if sent < count else 1.0
        readable, _, _ = select.select([rx], [], [], wait)
        if readable:
            parser.feed(rx.recv(1 << 16))
            arrived = time.perf_counter_ns()
            for frame in parser.frames():
                delays.append((arrived - int.from_bytes(frame.data[:8], "little")) / 1e3)
    tx.close()
    rx.close()
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def start_daemon():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "spreadbus.daemon", "--port", str(port), "--bind", "127.0.0.1"]
    cmd += ["--no-unix", "--log-level", "WARNING"]
    process = subprocess.Popen(cmd)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return process, ("127.0.0.1", port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("spreadbusd did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--daemon", help="HOST:PORT of a running daemon instead of starting spreadbusd")
    args = parser.parse_args()
    process = None
    if args.daemon:
        host, port = args.daemon.rsplit(":", 1)
        address = (host, int(port))
    else:
        process, address = start_daemon()
    try:
        time.sleep(1.2)  # let the readiness probe's session time out
        rate, _, n = throughput(address, args.messages, args.size, 1)
        print(f"1 -> 1   {args.size} B FIFO: {rate:10,.0f} msg/s ({n:,} of {args.messages:,} received)")
        per, total, n = throughput(address, args.messages // 2, args.size, 10)
        print(
            f"1 -> 10  {args.size} B FIFO: {per:10,.0f} msg/s per receiver, {total:,.0f} msg/s delivered"
            f" (slowest receiver got {n:,} of {args.messages // 2:,})"
        )
        p50, p99 = latency(address, 1000, 3, args.size)
        print(f"latency at 1,000 msg/s ({args.size} B): p50 {p50:.0f} us, p99 {p99:.0f} us")
    finally:
        if process is not None:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
