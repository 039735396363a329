"""A burst into a slow protected receiver: spreadbusd's flow control against Spread's drop.

Five senders each pipeline N/5 FIFO messages of 1 KiB to the private group of one receiver
named ``_MASTER_`` that spends ``--work-us`` microseconds on every message (as the mediator
does when it stores before relaying). Meanwhile a bystander pair (one sender, one fast
receiver, a group of their own) exchanges N/5 messages. The daemon runs in this process (in
a thread, so its ``flow_stats()`` can be read); everything else runs in processes of its own
and speaks the wire protocol over raw sockets.

Two runs: ``protected`` (the default: ``_MASTER_`` is protected) and ``unprotected``
(``protect=()``, Spread's behaviour: dropped at MaxSessionMessages queued).

Usage::

    python bench/spread_flow_control.py [--messages 100000] [--size 1024] [--work-us 50]

Only prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import queue
import struct
import time

from spread_throughput import connect, frame_size, join

from spreadbus import wire
from spreadbus.daemon import ThreadedDaemon

SENDERS = 5
MASTER = "_MASTER_"
BYSTANDERS = "bystanders"


def slow_receiver(address, total, work, ready, results):
    sock, _ = connect(address, MASTER)
    ready.put(MASTER)
    parser = wire.MessageParser(from_daemon=True, max_groups=None)
    next_seq = {}
    in_order = True
    got = 0
    first = last = time.perf_counter()
    while got < total:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break  # dropped by the daemon
        if not got:
            first = time.perf_counter()
        parser.feed(chunk)
        count = 0
        for frame in parser.frames():
            sender, seq = struct.unpack_from("<II", frame.data)
            in_order &= next_seq.get(sender, 0) == seq
            next_seq[sender] = seq + 1
            count += 1
        got += count
        last = time.perf_counter()
        time.sleep(count * work)  # the work done on these messages
    results.put(("receiver", got, in_order, first, last))
    sock.close()


def burst_sender(address, index, messages, size, target, start, results):
    sock, me = connect(address, f"s{index}")
    target = target or wire.private_group(MASTER.encode(), b"localhost")
    padding = os.urandom(size - 8)
    start.wait()
    began = time.perf_counter()
    for first in range(0, messages, 64):
        sock.sendall(
            b"".join(
                wire.encode_message(wire.FIFO_MESS, me, [target], struct.pack("<II", index, seq) + padding)
                for seq in range(first, min(first + 64, messages))
            )
        )
    results.put((f"s{index}", began, time.perf_counter()))
    time.sleep(0.5)
    sock.close()


def bystander_receiver(address, messages, size, ready, results):
    sock, me = connect(address, "byrecv")
    join(sock, me, BYSTANDERS)
    sock.sendall(wire.encode_message(wire.FIFO_MESS, me, [me], b"x"))  # the join is in effect
    marker = frame_size(1)
    got = b""
    while len(got) < marker:
        got += sock.recv(marker - len(got))
    ready.put("byrecv")
    expected = messages * frame_size(size)
    received = 0
    buf = bytearray(1 << 20)
    first = None
    while received < expected:
        n = sock.recv_into(buf)
        if not n:
            break
        first = first or time.perf_counter()
        received += n
    results.put(("bystander", received // frame_size(size), first, time.perf_counter()))
    sock.close()


def run(protect, messages, size, work):
    logging.getLogger("spreadbus.daemon").setLevel(logging.ERROR)  # the drop is reported below
    bus = ThreadedDaemon(unix_dir=None, protect=protect).start()
    address = ("127.0.0.1", bus.port)
    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    each = messages // SENDERS
    listeners = [
        ctx.Process(target=slow_receiver, args=(address, each * SENDERS, work, ready, results)),
        ctx.Process(target=bystander_receiver, args=(address, each, size, ready, results)),
    ]
    for process in listeners:
        process.start()
    for _ in listeners:
        ready.get(timeout=60)
    senders = [
        ctx.Process(target=burst_sender, args=(address, i, each, size, None, start, results))
        for i in range(SENDERS)
    ]
    senders.append(
        ctx.Process(target=burst_sender, args=(address, SENDERS, each, size, BYSTANDERS, start, results))
    )
    for process in senders:
        process.start()
    time.sleep(1.0)  # every sender connected and waiting
    start.set()
    rows = {}
    peak = None  # the gate's figures as last seen while the receiver was connected
    deadline = time.monotonic() + 600
    while len(rows) < len(senders) + 2 and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            row = results.get(timeout=0.05)
            rows[row[0]] = row[1:]
        peak = bus.call(bus.daemon.flow_stats).get(f"#{MASTER}#localhost", peak)
    for process in listeners + senders:
        process.join()
    bus.stop()
    return each, rows, peak


def report(label, each, rows, peak):
    got, in_order, first, last = rows["receiver"]
    total = each * SENDERS
    began = min(rows[f"s{i}"][0] for i in range(SENDERS))
    written = [rows[f"s{i}"][1] - began for i in range(SENDERS)]
    print(f"{label}:")
    if got == total:
        print(f"  slow receiver: all {got:,} messages, per-sender order {'kept' if in_order else 'BROKEN'},")
        print(f"    {got / (last - began):,.0f} msg/s from the first send to the last message read")
    else:
        print(f"  slow receiver: DROPPED after reading {got:,} of {total:,} messages")
    print(
        f"  senders done writing after {min(written):.2f} - {max(written):.2f} s (receiver done at {last - began:.2f} s)"
    )
    by_count, by_first, by_last = rows["bystander"]
    print(
        f"  bystander 1 -> 1 meanwhile: {by_count:,} of {each:,} messages, {by_count / (by_last - by_first):,.0f} msg/s"
    )
    if peak is not None:
        print(
            f"  daemon queue for _MASTER_: peak {peak.peak_queued} messages ({peak.peak_queued_bytes / 1024:,.0f} KiB);"
            f" flow control engaged {peak.engaged} times, senders paused {peak.pauses} times"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--messages", type=int, default=100_000, help="messages into the slow receiver in all"
    )
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument(
        "--work-us", type=float, default=50.0, help="receiver's work per message (microseconds)"
    )
    args = parser.parse_args()
    work = args.work_us / 1e6
    print(
        f"{SENDERS} senders x {args.messages // SENDERS:,} messages of {args.size} B into one receiver that spends"
        f" {args.work_us:g} us per message (MaxSessionMessages 1000)"
    )
    report("protected (default)", *run((MASTER,), args.messages, args.size, work))
    report("unprotected (as Spread)", *run((), args.messages, args.size, work))


if __name__ == "__main__":
    main()
