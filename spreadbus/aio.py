"""An asyncio client of a Spread-compatible daemon, built on the sans-IO codec ``spreadbus.wire``.

One ``BusConnection`` is one Spread session (a "mailbox"). It is made for a program that
must move many messages quickly, such as the SeisComP3 mediator:

* Reading: every chunk the socket delivers is fed to one ``wire.MessageParser`` and all the
  complete frames in it are handed on together, either to a batch handler set with
  ``set_frame_handler()`` (the fast path: the raw ``wire.Frame`` objects, nothing decoded
  beyond the header) or to an internal queue read with ``receive()`` (decoded
  ``RegularMessage`` / ``MembershipMessage`` values).
* Writing: ``multicast()``, ``join()`` and ``leave()`` only append encoded frames to a list;
  the list goes to the socket in one write at the end of the current event-loop iteration,
  so a burst of sends costs one system call.
* Backpressure: when the socket does not take our writes (the transport's write buffer is
  over its high-water mark) ``drain()`` waits, and a write-pressure callback lets the owner
  stop reading until the bus takes data again. Reading can be paused and resumed at any time;
  the ``receive()`` queue pauses reading by itself when it holds more than
  ``max_queued_bytes``.

Addresses: ``"<port>@<host>"`` (the Spread form), ``"<host>:<port>"``, ``"<host>"``
(port 4803), ``"<port>"`` (the unix socket ``/tmp/<port>``, as libspread) and an absolute
path of a unix socket (an extension).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import NamedTuple

from spreadbus import wire

DEFAULT_ADDRESS = f"{wire.DEFAULT_SPREAD_PORT}@localhost"
_WRITE_HIGH_WATER = 4 * 1024 * 1024
# A little-endian header with the hint as a number (what wire.pack_header writes).
_LE_HEADER = struct.Struct("<I32siIi")
_GROUP_FIELD_CACHE = 4096
_WRITE_LOW_WATER = 1024 * 1024


class BusError(Exception):
    """A Spread-level failure; ``code`` is the Spread error code (``wire.CONNECTION_CLOSED`` ...)."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or wire.ERROR_TEXTS.get(code, f"Spread error {code}")
        super().__init__(self.reason)


class RegularMessage(NamedTuple):
    service_type: int
    sender: str
    groups: tuple[str, ...]
    msg_type: int
    data: bytes


class MembershipMessage(NamedTuple):
    """A membership notice: ``group`` changed; ``members`` are its members now.

    ``changed_member`` is the member that joined, left or disconnected (``None`` for
    transitional notices and self-leave).
    """

    service_type: int
    group: str
    members: tuple[str, ...]
    changed_member: str | None

    @property
    def caused_by_join(self) -> bool:
        return bool(self.service_type & wire.CAUSED_BY_JOIN) and self.is_regular

    @property
    def caused_by_leave(self) -> bool:
        return bool(self.service_type & wire.CAUSED_BY_LEAVE) and self.is_regular

    @property
    def caused_by_disconnect(self) -> bool:
        return bool(self.service_type & wire.CAUSED_BY_DISCONNECT) and self.is_regular

    @property
    def is_regular(self) -> bool:
        return bool(self.service_type & wire.REG_MEMB_MESS)

    @property
    def is_self_leave(self) -> bool:
        return wire.is_self_leave(self.service_type)


Message = RegularMessage | MembershipMessage
FrameHandler = Callable[[list[wire.Frame]], None]


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")


def decode_frame(frame: wire.Frame) -> Message:
    """The ``receive()`` view of a frame; ``BusError`` for a reject message."""
    header = frame.header
    kind = header.type
    if kind & wire.REJECT_MESS:
        raise BusError(
            wire.ILLEGAL_MESSAGE, f"reject message from the daemon (old type 0x{frame.old_type or 0:x})"
        )
    if wire.is_regular(kind):
        return RegularMessage(
            kind,
            _text(header.sender_name),
            tuple(_text(g) for g in frame.groups),
            header.msg_type,
            frame.data,
        )
    changed = None
    if kind & wire.REG_MEMB_MESS:
        body = wire.decode_membership(frame.data, header.byteorder)
        if body.changed_member is not None:
            changed = _text(body.changed_member)
    return MembershipMessage(kind, _text(header.sender_name), tuple(_text(g) for g in frame.groups), changed)


def parse_address(address: str) -> tuple[str, str]:
    """``("tcp", "host:port")`` or ``("unix", path)`` for a bus address; ``BusError`` if malformed."""
    text = address.strip()
    if not text:
        text = DEFAULT_ADDRESS
    if text.startswith("/"):
        return "unix", text
    if "@" in text:
        port_text, _, host = text.partition("@")
        return "tcp", f"{host.strip() or 'localhost'}:{_port(port_text, address)}"
    if text.isdigit():
        return "unix", f"{wire.UNIX_SOCKET_DIR}/{_port(text, address)}"
    if text.count(":") > 1:
        raise BusError(wire.ILLEGAL_SPREAD, f"bad bus address {address!r}: more than one ':'")
    host, _, port_text = text.partition(":")
    return (
        "tcp",
        f"{host or 'localhost'}:{_port(port_text, address) if port_text else wire.DEFAULT_SPREAD_PORT}",
    )


def _port(text: str, address: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise BusError(wire.ILLEGAL_SPREAD, f"bad port in bus address {address!r}")
    return int(text)


class _Handshake:
    """Client side of the session set-up, fed with the bytes the daemon sends."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.stage = "auth_list"

    def feed(self, data: bytes) -> tuple[bytes | None, wire.Accept | None]:
        """Returns (bytes to send, accept when done); raises ``wire.HandshakeError``."""
        self.buffer += data
        if self.stage == "auth_list":
            parsed = wire.decode_auth_list(self.buffer)
            if parsed is None:
                return None, None
            methods, used = parsed
            del self.buffer[:used]
            if "NULL" not in methods:
                raise wire.HandshakeError(
                    wire.REJECT_AUTH, f"daemon offers no NULL authentication: {methods}"
                )
            self.stage = "accept"
            reply = wire.encode_auth_choice(("NULL",))
            _, accept = self.feed(b"")
            return reply, accept
        accepted = wire.decode_accept(self.buffer)
        if accepted is None:
            return None, None
        accept, used = accepted
        del self.buffer[:used]
        self.stage = "open"
        return None, accept


class BusConnection(asyncio.Protocol):
    """One session with the bus. Create it with ``await BusConnection.connect(...)``."""

    def __init__(self, max_queued_bytes: int = 16 * 1024 * 1024) -> None:
        self.private_group = ""
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._handshake: _Handshake | None = _Handshake()
        self._established: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[BusError | None] = self._loop.create_future()
        self._parser = wire.MessageParser(from_daemon=True, max_groups=None)
        self._handler: FrameHandler | None = None
        self._queue: collections.deque[wire.Frame] = collections.deque()
        self._queued_bytes = 0
        self._max_queued_bytes = max_queued_bytes
        self._queue_waiter: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._write_pressure: Callable[[bool], None] | None = None
        self._reading_holds: set[str] = set()
        self._sender_field = b""
        self._group_fields: dict[str | bytes, bytes] = {}

    # --- set-up ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        address: str = DEFAULT_ADDRESS,
        name: str = "",
        *,
        membership: bool = True,
        priority: int = 0,
        timeout: float | None = 5.0,
        max_queued_bytes: int = 16 * 1024 * 1024,
    ) -> BusConnection:
        """Open a session; raises ``BusError`` (e.g. ``REJECT_NOT_UNIQUE``, ``COULD_NOT_CONNECT``)."""
        kind, target = parse_address(address)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                if kind == "unix":
                    _, conn = await loop.create_unix_connection(lambda: cls(max_queued_bytes), str(target))
                else:
                    host, _, port = str(target).rpartition(":")
                    _, conn = await loop.create_connection(lambda: cls(max_queued_bytes), host, int(port))
                conn._start(name, membership, priority)
                await conn._established
        except TimeoutError as exc:
            raise BusError(wire.COULD_NOT_CONNECT, f"no answer from the bus at {address} in time") from exc
        except OSError as exc:
            raise BusError(wire.COULD_NOT_CONNECT, f"cannot connect to the bus at {address}: {exc}") from exc
        return conn

    def _start(self, name: str, membership: bool, priority: int) -> None:
        assert self._transport is not None
        self._transport.write(wire.encode_connect(name, membership, priority))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Socket buffers are left to the kernel's autotuning: a fixed size (libspread sets
            # 200 KiB) would cap them lower and make the daemon queue for us sooner.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER, low=_WRITE_LOW_WATER)

    # --- reading --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._handshake is not None:
            self._handshake_data(data)
            return
        parser = self._parser
        parser.feed(data)
        try:
            frames = list(parser.frames())
        except wire.SpreadWireError as exc:
            self._fail(BusError(wire.ILLEGAL_MESSAGE, f"malformed data from the bus: {exc}"))
            return
        if not frames:
            return
        if self._handler is not None:
            self._handler(frames)
        else:
            self._enqueue(frames)

    def _handshake_data(self, data: bytes) -> None:
        assert self._handshake is not None
        try:
            reply, accept = self._handshake.feed(data)
        except wire.HandshakeError as exc:
            code = exc.code if exc.code is not None else wire.CONNECTION_CLOSED
            self._fail(BusError(code, exc.reason))
            return
        if reply is not None and self._transport is not None:
            self._transport.write(reply)
        if accept is None:
            return
        rest = bytes(self._handshake.buffer)
        self._handshake = None
        self.private_group = _text(accept.private_group)
        self._sender_field = wire.encode_name(accept.private_group)
        if not self._established.done():
            self._established.set_result(None)
        if rest:
            self.data_received(rest)

    def set_frame_handler(self, handler: FrameHandler | None) -> None:
        """Hand every batch of received frames to ``handler`` instead of the ``receive()`` queue."""
        self._handler = handler
        if handler is not None and self._queue:
            pending = list(self._queue)
            self._queue.clear()
            self._queued_bytes = 0
            self._release_reading("queue")
            handler(pending)

    def _enqueue(self, frames: list[wire.Frame]) -> None:
        self._queue.extend(frames)
        self._queued_bytes += sum(len(f.raw) for f in frames)
        if self._queued_bytes > self._max_queued_bytes:
            self._hold_reading("queue")
        waiter = self._queue_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive_frame(self) -> wire.Frame:
        """The next frame as received; ``BusError`` once the session is gone and the queue empty."""
        while not self._queue:
            if self._closed.done():
                raise self._closed.result() or BusError(wire.CONNECTION_CLOSED)
            self._queue_waiter = self._loop.create_future()
            try:
                await self._queue_waiter
            finally:
                self._queue_waiter = None
        frame = self._queue.popleft()
        self._queued_bytes -= len(frame.raw)
        if self._queued_bytes <= self._max_queued_bytes // 2:
            self._release_reading("queue")
        return frame

    async def receive(self) -> Message:
        """The next message, decoded; ``BusError`` once the session is gone and the queue empty."""
        return decode_frame(await self.receive_frame())

    def pause_reading(self, reason: str = "caller") -> None:
        """Stop reading the socket (the daemon then queues for us) until ``resume_reading``."""
        self._hold_reading(reason)

    def resume_reading(self, reason: str = "caller") -> None:
        self._release_reading(reason)

    def _hold_reading(self, reason: str) -> None:
        if not self._reading_holds and self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()
        self._reading_holds.add(reason)

    def _release_reading(self, reason: str) -> None:
        if reason not in self._reading_holds:
            return
        self._reading_holds.discard(reason)
        if not self._reading_holds and self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    @property
    def reading_paused(self) -> bool:
        return bool(self._reading_holds)

    # --- writing --------------------------------------------------------------------------

    def multicast(self, service_type: int, group: str | bytes, data: bytes, msg_type: int = 0) -> None:
        """Queue one message to ``group``; it goes out at the end of this loop iteration."""
        field = self._group_fields.get(group)
        if field is None:
            field = wire.encode_name(group)
            if len(self._group_fields) >= _GROUP_FIELD_CACHE:
                self._group_fields.clear()
            self._group_fields[group] = field
        hint = ((msg_type << 8) & wire.HINT_MSG_TYPE_MASK) | wire.ENDIAN_RESERVED
        header = _LE_HEADER.pack(
            (service_type & ~wire.ENDIAN_RESERVED) | wire.ENDIAN_RESERVED,
            self._sender_field,
            1,
            hint,
            len(data),
        )
        self.send_raw(header + field + data)

    def join(self, group: str | bytes) -> None:
        self._command(wire.JOIN_MESS, group)

    def leave(self, group: str | bytes) -> None:
        self._command(wire.LEAVE_MESS, group)

    def _command(self, kind: int, group: str | bytes) -> None:
        raw = group.encode("latin-1") if isinstance(group, str) else bytes(group)
        if not wire.is_legal_name(raw):
            raise BusError(wire.ILLEGAL_GROUP, f"illegal group name {raw!r}")
        self.send_raw(wire.encode_message(kind, self._sender_field, [raw]))

    def send_raw(self, frame: bytes) -> None:
        """Queue one complete, encoded frame (header included)."""
        if self._closed.done():
            raise self._closed.result() or BusError(wire.CONNECTION_CLOSED)
        self._out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write everything queued now (normally called by the loop)."""
        self._flush_scheduled = False
        if not self._out or self._transport is None or self._transport.is_closing():
            self._out.clear()
            return
        out = self._out
        self._out = []
        self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._write_pressure is not None:
            self._write_pressure(True)

    def resume_writing(self) -> None:
        self._write_paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if self._write_pressure is not None:
            self._write_pressure(False)

    def set_write_pressure_callback(self, callback: Callable[[bool], None] | None) -> None:
        """``callback(True)`` when the bus stops taking our writes, ``callback(False)`` when it takes them again."""
        self._write_pressure = callback

    async def drain(self) -> None:
        """Wait until the socket takes our writes again (returns at once if it does)."""
        self.flush()
        if self._closed.done():
            raise self._closed.result() or BusError(wire.CONNECTION_CLOSED)
        if not self._write_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        if self._closed.done():
            raise self._closed.result() or BusError(wire.CONNECTION_CLOSED)

    # --- closing --------------------------------------------------------------------------

    def _fail(self, error: BusError) -> None:
        if not self._closed.done():
            self._closed.set_result(error)
        if not self._established.done():
            self._established.set_exception(error)
        self._wake_waiters()
        if self._transport is not None:
            self._transport.abort()

    def _wake_waiters(self) -> None:
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if self._queue_waiter is not None and not self._queue_waiter.done():
            self._queue_waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        error = BusError(wire.CONNECTION_CLOSED, f"connection to the bus lost: {exc}" if exc else None)
        if not self._established.done():
            self._established.set_exception(error)
        if not self._closed.done():
            self._closed.set_result(error)
        self._wake_waiters()
        if self._write_pressure is not None and self._write_paused:
            self._write_paused = False
            self._write_pressure(False)

    def eof_received(self) -> bool:
        return False

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> BusError | None:
        """Wait until the session ends; returns why (``None`` after our own ``disconnect()``)."""
        return await asyncio.shield(self._closed)

    async def disconnect(self) -> None:
        """Send KILL, write what is queued and close (as ``SP_disconnect``); idempotent."""
        if self._closed.done():
            return
        if self._handshake is None and self.private_group:
            self._out.append(wire.encode_message(wire.KILL_MESS, self._sender_field, [self._sender_field]))
        self.flush()
        self._closed.set_result(None)
        self._wake_waiters()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, without KILL (as a crash would)."""
        if not self._closed.done():
            self._closed.set_result(None)
        self._wake_waiters()
        if self._transport is not None:
            self._transport.abort()
