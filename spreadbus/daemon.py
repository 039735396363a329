"""``spreadbusd``: a single Spread 4 daemon for clients, on asyncio.

This module only moves bytes and owns timers; the protocol lives in ``session`` (one
connection) and ``groups`` (the group table), the bytes in ``wire``.

Delivery is immediate, in the order messages are read: one total order of all data and
membership messages, consistent with each sender's order, which satisfies every Spread
service level on one daemon. A multicast is encoded once; every receiver gets the same
``bytes`` object. Outgoing bytes are collected per connection and written once per turn of
the event loop. When a connection's transport buffer is full (``pause_writing``) further
messages wait in a per-session queue; a session that would need more than
``max_session_messages`` queued messages is disconnected, like Spread's
``MaxSessionMessages``. Client sockets get Spread's options (200 KiB buffers each way,
TCP_NODELAY, SO_KEEPALIVE), so a reader falls as far behind as under Spread before that.

Where Spread closes a connection with client bytes still unread in its socket (a rejected
connect message with bytes after what it read, a message header it refuses before reading
the body, bytes behind a KILL), its kernel resets the connection; this daemon has read
those bytes already and asks for the reset itself (``SO_LINGER`` 0, TCP only).

Protected sessions (``protect``: private names, ``_MASTER_`` by default) are not dropped
that way: the mediator every module sends to must take any burst. Their queue has a
``flow.Gate``: once it holds ``protect_high_messages`` messages (three quarters of the
limit unless told) or ``protect_high_bytes`` bytes, a message for the session from an
unprotected sender is not delivered; the daemon stops reading that sender (its client then
blocks in its own writes) and keeps the message and what followed it until the queue has
drained to half the marks. Nothing is lost and each sender stays FIFO; the total order is
the order in which the daemon finally delivers. A parked sender still receives. A protected
sender is never parked (it may be the one that has to read to make room), so only a
protected session's own messages, or another protected session's, could overfill its
queue: at the limit it is dropped for them like any session. Disconnect notices, at most
one per member of its groups, are always queued for it.

Embedding: ``SpreadDaemon`` (``await start()``, ``await stop()``, ``port``, ``unix_path``)
runs in a running event loop; ``ThreadedDaemon`` runs one in a thread of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import os
import random
import signal
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence

from spreadbus import wire
from spreadbus.conf import ConfigError, load_config
from spreadbus.flow import DEFAULT_HIGH_BYTES, FlowStats, Gate, Marks
from spreadbus.groups import GroupTable
from spreadbus.session import (
    ConnectRequested,
    Dropped,
    Established,
    Join,
    Kill,
    Leave,
    Multicast,
    Refused,
    Session,
    State,
)

log = logging.getLogger("spreadbus.daemon")

# Spread raises both socket buffers of every client connection to 200 KiB (the kernel
# doubles the figure for its bookkeeping); that, with its per-session message queue, sets
# how far a reader may fall behind before it is dropped.
SOCKET_BUFFER = 200 * 1024
# Spread queues a message once the socket takes no more of it; the transport's own buffer
# is kept small so that what waits in the daemon is counted in the queue as in Spread.
_WRITE_HIGH_WATER = 64 * 1024
_WRITE_LOW_WATER = 16 * 1024
_RESUME_BATCH = 64 * 1024
# Spread waits for the auth choice for ever, its session slot and private name taken;
# this daemon gives up after a while and answers as to a short choice (REJECT_AUTH).
AUTH_TIMEOUT = 10.0
PROTECTED_BY_DEFAULT = ("_MASTER_",)


class _Connection(asyncio.Protocol):
    """Byte mover of one client socket."""

    def __init__(self, daemon: SpreadDaemon, transport_kind: str) -> None:
        self.daemon = daemon
        self.kind = transport_kind
        self.session = Session(daemon.name_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.private_name: bytes | None = None  # reserved once the connect message is in
        self.private_group = b""
        self.membership = False
        self.open = False
        self.closed = False
        self.paused = False
        self.pending: list[bytes] = []  # to write at the next flush
        self.queue: collections.deque[bytes] = collections.deque()  # waiting for resume_writing
        self.timer: asyncio.TimerHandle | None = None
        self.gate: Gate[_Connection] | None = None  # set when this session is protected
        self.parked_at: _Connection | None = None  # the protected session this one waits for
        self.held: list = []  # events read from this client that wait with it

    def __str__(self) -> str:
        who = self.private_group.decode("latin-1") if self.private_group else "session"
        return f"{who} ({self.kind} {self.peer})"

    # --- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "local"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _set_socket_options(sock)
        transport.set_write_buffer_limits(_WRITE_HIGH_WATER, _WRITE_LOW_WATER)
        self.daemon._accepted(self)

    def data_received(self, data: bytes) -> None:
        if not self.closed:
            self.daemon._handle(self, self.session.receive_data(data))

    def eof_received(self) -> bool:
        if not self.closed:
            self.daemon._handle(self, self.session.receive_eof())
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            reason = f"connection error: {exc}" if exc else "connection closed by the client"
            quiet = exc is None or isinstance(exc, ConnectionResetError)
            self.daemon._drop(self, reason, level=logging.INFO if quiet else logging.WARNING)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        queue = self.queue
        transport = self.transport
        gate = self.gate
        while queue and not self.paused and not self.closed:
            batch = []
            size = 0
            while queue and size < _RESUME_BATCH:
                item = queue.popleft()
                batch.append(item)
                size += len(item)
            transport.write(b"".join(batch))
            if gate is not None and gate.sent(len(batch), size):
                self.daemon._release(self, f"down to {gate.messages} messages")

    # --- output -------------------------------------------------------------------------------

    def send(self, data: bytes, always: bool = False) -> None:
        """Queue ``data`` for this client; disconnect it if it is too far behind. A
        protected session takes an ``always`` message (a disconnect notice) past the limit."""
        if self.closed:
            return
        if self.paused:
            queue = self.queue
            gate = self.gate
            if len(queue) >= self.daemon.max_session_messages and (gate is None or not always):
                # Mid-delivery: the groups hear of it after this message, as in Spread,
                # where the daemon's own KILL is ordered behind what is being delivered.
                reason = f"slow receiver: {len(queue)} messages queued"
                if gate is not None:
                    reason += " (sent by protected sessions, which flow control never pauses)"
                self.daemon._drop(self, reason, defer=True)
                return
            queue.append(data)
            if gate is not None and gate.queued(len(data)):
                self.daemon._engaged(self)
            return
        if not self.pending:
            self.daemon._dirty.append(self)
            if not self.daemon._flush_scheduled:
                self.daemon._flush_scheduled = True
                self.daemon.loop.call_soon(self.daemon._flush)
        self.pending.append(data)


class SpreadDaemon:
    """One Spread daemon serving clients on TCP and a unix socket.

    ``hosts``: addresses to listen on (``None`` or ``[]``: every address). ``port`` 0 picks a
    free port (then ``port`` tells which). ``unix_dir``: where the ``<port>`` socket goes
    (``None``: no unix socket).
    """

    def __init__(
        self,
        name: str = "localhost",
        port: int = wire.DEFAULT_SPREAD_PORT,
        hosts: Sequence[str] | None = ("127.0.0.1",),
        unix_dir: str | None = wire.UNIX_SOCKET_DIR,
        max_session_messages: int = wire.DEFAULT_MAX_SESSION_MESSAGES,
        max_sessions: int = wire.MAX_SESSIONS,
        accept_timeout: float = wire.ACCEPT_TIMEOUT,
        auth_timeout: float = AUTH_TIMEOUT,
        proc_id: int | None = None,
        protect: Iterable[str] = PROTECTED_BY_DEFAULT,
        protect_high_messages: int | None = None,
        protect_high_bytes: int = DEFAULT_HIGH_BYTES,
    ) -> None:
        name_bytes = name.encode("latin-1")
        if not wire.is_legal_name(name_bytes, wire.MAX_PROC_NAME - 1):
            raise ValueError(f"illegal daemon name {name!r} (1..19 characters of '$'..'~')")
        protected = set()
        for private_name in protect:
            if not (
                private_name.isascii() and wire.is_legal_name(private_name.encode(), wire.MAX_PRIVATE_NAME)
            ):
                raise ValueError(
                    f"illegal private name to protect {private_name!r} (1..10 characters of '$'..'~')"
                )
            protected.add(private_name.encode())
        if protect_high_messages is None:
            protect_high_messages = max(1, max_session_messages * 3 // 4)
        if not 1 <= protect_high_messages <= max_session_messages:
            raise ValueError(
                f"protect_high_messages {protect_high_messages} not within 1..{max_session_messages}"
                " (max_session_messages)"
            )
        self.protected_names = frozenset(protected)
        self.flow_marks = Marks(protect_high_messages, protect_high_bytes)
        self.name = name
        self.name_bytes = name_bytes
        self.requested_port = port
        self.hosts = list(hosts or [])
        self.unix_dir = unix_dir
        self.max_session_messages = max_session_messages
        self.max_sessions = max_sessions
        self.accept_timeout = accept_timeout
        self.auth_timeout = auth_timeout
        self.proc_id = proc_id if proc_id is not None else _proc_id(self.hosts)
        self.port = 0
        self.unix_path: str | None = None
        self.addresses: list[tuple[str, int]] = []
        self.loop: asyncio.AbstractEventLoop
        self.groups: GroupTable[_Connection] = GroupTable(self.proc_id, 0)
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self._names: dict[bytes, _Connection] = {}  # private names in use, incl. handshakes
        self._sessions: dict[bytes, _Connection] = {}  # established, by private group
        self._dirty: list[_Connection] = []
        self._flush_scheduled = False
        self._congested: set[_Connection] = set()  # protected sessions whose gate is closed
        self._random = random.Random()

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listening sockets; the daemon serves from now on."""
        self.loop = asyncio.get_running_loop()
        self.groups = GroupTable(self.proc_id, int(time.time()) & 0x7FFFFFFF)
        port = self.requested_port
        try:
            for host in self.hosts or [None]:
                server = await self.loop.create_server(
                    lambda: _Connection(self, "tcp"), host, port, backlog=25, reuse_address=True
                )
                self._servers.append(server)
                for sock in server.sockets:
                    self.addresses.append(sock.getsockname()[:2])
                port = port or self.addresses[0][1]
            self.port = port
            if self.unix_dir is not None:
                await self._start_unix(os.path.join(self.unix_dir, str(port)))
        except BaseException:
            await self.stop()
            raise
        where = [f"{host}:{bound}" for host, bound in self.addresses]
        if self.unix_path:
            where.append(self.unix_path)
        log.info("daemon %s serving clients on %s", self.name, ", ".join(where))

    async def _start_unix(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # a stale socket of an earlier run, as Spread does
        server = await self.loop.create_unix_server(lambda: _Connection(self, "unix"), path, backlog=5)
        self._servers.append(server)
        self.unix_path = path
        os.chmod(path, 0o666)

    async def stop(self) -> None:
        """Close the listeners and every session, remove the unix socket."""
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.closed = True
            if connection.timer is not None:
                connection.timer.cancel()
            if connection.transport is not None:
                connection.transport.abort()
        self._connections.clear()
        self._names.clear()
        self._sessions.clear()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)
            self.unix_path = None

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def flow_stats(self) -> dict[str, FlowStats]:
        """Flow control of every connected protected session, by private group name."""
        return {
            _group_name(connection): connection.gate.stats(_group_name)
            for connection in self._sessions.values()
            if connection.gate is not None
        }

    # --- connections --------------------------------------------------------------------------

    def _accepted(self, connection: _Connection) -> None:
        if len(self._connections) >= self.max_sessions:
            log.warning("%s refused: %d sessions already (REJECT_QUOTA)", connection, len(self._connections))
            connection.closed = True
            connection.transport.write(wire.encode_reject_byte(wire.REJECT_QUOTA))
            connection.transport.close()
            return
        self._connections.add(connection)
        connection.timer = self.loop.call_later(self.accept_timeout, self._timed_out, connection)

    def _timed_out(self, connection: _Connection) -> None:
        connection.timer = None
        if connection.session.state is State.AUTHENTICATING:
            refused = connection.session.refuse(wire.REJECT_AUTH, "no auth choice in time")
            self._handle(connection, [refused])
            return
        self._drop(connection, "no connect message within the time limit")

    def _handle(self, connection: _Connection, events: list) -> None:
        for index, event in enumerate(events):
            kind = type(event)
            congested = None  # the protected session a message or notice has to wait for
            if kind is Multicast:
                congested = self._multicast(connection, event)
            elif kind is Join:
                congested = self._join(connection, event.group)
            elif kind is Leave:
                congested = self._leave(connection, event.group)
            elif kind is Kill:
                self._drop(connection, "disconnected (KILL)", level=logging.INFO, unread=event.unread)
            elif kind is Dropped:
                level = logging.WARNING if event.violation else logging.INFO
                self._drop(connection, event.reason, level=level, unread=event.unread)
            elif kind is ConnectRequested:
                self._name_session(connection, event.message)
            elif kind is Established:
                self._established(connection, event)
            elif kind is Refused:
                self._refuse(connection, event)
            if congested is not None:
                self._park(connection, congested, events[index:])
                return
            if connection.closed:
                break

    def _name_session(self, connection: _Connection, message: wire.ConnectMessage) -> None:
        name = message.name
        if not name:
            name = self._invent_name(connection)
        elif name in self._names:
            reason = f"private name {name.decode('latin-1')!r} in use"
            self._refuse(connection, connection.session.refuse(wire.REJECT_NOT_UNIQUE, reason))
            return
        self._names[name] = connection
        connection.private_name = name
        if name in self.protected_names:
            connection.gate = Gate(self.flow_marks)
        connection.membership = message.membership
        connection.transport.write(connection.session.admit(name))
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = self.loop.call_later(self.auth_timeout, self._timed_out, connection)
        if connection.session.state is State.OPEN:
            self._established(connection, None)
        self._handle(connection, connection.session.receive_data(b""))

    def _invent_name(self, connection: _Connection) -> bytes:
        sock = connection.transport.get_extra_info("socket")
        fd = sock.fileno() if sock is not None else len(self._connections)
        while True:
            name = f"r{self._random.randint(0, 9998)}-{fd}"[: wire.MAX_PRIVATE_NAME - 1].encode()
            if name not in self._names:
                return name

    def _established(self, connection: _Connection, event: Established | None) -> None:
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None
        if event is not None:
            connection.transport.write(event.reply)
        connection.private_group = connection.session.private_group
        connection.open = True
        self._sessions[connection.private_group] = connection
        log.info(
            "%s connected (membership messages %s%s)",
            connection,
            "on" if connection.membership else "off",
            "; protected: slows its senders down instead of being dropped" if connection.gate else "",
        )

    def _refuse(self, connection: _Connection, refused: Refused) -> None:
        """Send the reject byte, if any, and close."""
        log.warning("%s refused: %s", connection, refused.reason)
        connection.closed = True
        self._forget(connection)
        transport = connection.transport
        if refused.reply:
            transport.write(refused.reply)
        if refused.unread and not transport.get_write_buffer_size():
            _reset_on_close(transport)
        transport.close()

    def _forget(self, connection: _Connection) -> None:
        if connection.timer is not None:
            connection.timer.cancel()
            connection.timer = None
        self._connections.discard(connection)
        if connection.private_name is not None and self._names.get(connection.private_name) is connection:
            del self._names[connection.private_name]

    def _drop(
        self,
        connection: _Connection,
        reason: str,
        level: int = logging.WARNING,
        defer: bool = False,
        unread: int = 0,
    ) -> None:
        """End a session at once: discard what waits for it, close the socket without a word
        (resetting the connection if Spread would leave ``unread`` input bytes), then tell its
        groups (CAUSED_BY_DISCONNECT), right away or, with ``defer``, once the current
        delivery is done."""
        if connection.closed:
            return
        connection.closed = True
        if connection.held:
            reason += (
                f"; {len(connection.held)} messages it sent that waited for a protected session discarded"
            )
            connection.held = []
        if connection.parked_at is not None:
            connection.parked_at.gate.forget(connection)
            connection.parked_at = None
        log.log(level, "%s dropped: %s", connection, reason)
        connection.pending.clear()
        connection.queue.clear()
        self._forget(connection)
        if unread:
            _reset_on_close(connection.transport)
        connection.transport.abort()
        if connection.open:
            del self._sessions[connection.private_group]
            if defer:
                self.loop.call_soon(self._disconnected, connection.private_group)
            else:
                self._disconnected(connection.private_group)
        gate = connection.gate
        if gate is not None:
            gate.discarded()
            if gate.congested:
                self._release(connection, "it is gone")

    def _disconnected(self, private_group: bytes) -> None:
        for change in self.groups.disconnect(private_group):
            self._notify(change.receivers, change.notice, always=True)

    # --- flow control toward protected sessions -----------------------------------------------

    def _congested_receiver(
        self, receivers: Sequence[_Connection], notice: bool = False
    ) -> _Connection | None:
        """The first of ``receivers`` (of a notice: those who get notices) whose gate is closed."""
        congested = self._congested
        for receiver in receivers:
            if receiver in congested and (receiver.membership or not notice):
                return receiver
        return None

    def _engaged(self, protected: _Connection) -> None:
        self._congested.add(protected)
        gate = protected.gate
        log.info(
            "flow control toward %s engaged: %d messages (%d bytes) queued; who sends to it now waits",
            protected,
            gate.messages,
            gate.bytes,
        )

    def _park(self, sender: _Connection, protected: _Connection, events: list) -> None:
        """``sender``'s first event of ``events`` would go to the congested ``protected``:
        stop reading ``sender``; the events wait until the gate opens."""
        sender.held = events
        sender.parked_at = protected
        protected.gate.park(sender)
        sender.transport.pause_reading()
        log.debug("%s paused: its next message waits for %s", sender, protected)

    def _release(self, protected: _Connection, why: str) -> None:
        """Open ``protected``'s gate; the parked senders go on (in the next loop turn, never in
        the middle of a delivery), first parked first."""
        self._congested.discard(protected)
        senders = protected.gate.open()
        for sender in senders:
            sender.parked_at = None
        log.info(
            "flow control toward %s released (%s): resuming %s",
            protected,
            why,
            ", ".join(_group_name(sender) for sender in senders) or "no one",
        )
        if senders:
            self.loop.call_soon(self._resume, senders)

    def _resume(self, senders: list[_Connection]) -> None:
        for sender in senders:
            if sender.closed:
                continue
            events = sender.held
            sender.held = []
            self._handle(sender, events)
            if sender.parked_at is None and not sender.closed:
                sender.transport.resume_reading()

    # --- groups and delivery ------------------------------------------------------------------

    def _notify(self, receivers: Sequence[_Connection], notice: bytes, always: bool = False) -> None:
        for receiver in receivers:
            if receiver.membership:
                receiver.send(notice, always)

    def _join(self, connection: _Connection, group: bytes) -> _Connection | None:
        """Join ``group``; or, if a member that gets notices is congested, the one to wait for."""
        if self._congested and connection.gate is None:
            congested = self._congested_receiver(self.groups.receivers(group), notice=True)
            if congested is not None:
                return congested
        change = self.groups.join(group, connection.private_group, connection)
        if change is not None:
            log.debug("%s joined %r", connection, group)
            self._notify(change.receivers, change.notice)
        return None

    def _leave(self, connection: _Connection, group: bytes) -> _Connection | None:
        """Leave ``group``; or, if a member that gets notices is congested, the one to wait for."""
        if not self.groups.is_member(group, connection.private_group):
            return None
        if self._congested and connection.gate is None:
            congested = self._congested_receiver(self.groups.receivers(group), notice=True)
            if congested is not None:
                return congested
        if connection.membership:
            connection.send(wire.encode_self_leave(group))
        change = self.groups.leave(group, connection.private_group)
        log.debug("%s left %r", connection, group)
        if change is not None:
            self._notify(change.receivers, change.notice)
        return None

    def _multicast(self, sender: _Connection, event: Multicast) -> _Connection | None:
        """Deliver ``event``; or, if one of its receivers is congested, the one to wait for
        (the message then goes to nobody yet: all its receivers get it together later)."""
        groups = event.groups
        if len(groups) == 1:
            group = groups[0]
            if group[:1] == b"#":
                target = self._sessions.get(group)
                receivers: Sequence[_Connection] = (target,) if target is not None else ()
            else:
                receivers = self.groups.receivers(group)
        else:
            unique: dict[_Connection, None] = {}
            for group in groups:
                if group[:1] == b"#":
                    target = self._sessions.get(group)
                    if target is not None:
                        unique[target] = None
                else:
                    unique.update(dict.fromkeys(self.groups.receivers(group)))
            receivers = tuple(unique)
        if self._congested and sender.gate is None:
            congested = self._congested_receiver(receivers)
            if congested is not None:
                return congested
        data = event.relay
        discard = sender if event.self_discard else None
        for receiver in receivers:
            if receiver is not discard:
                receiver.send(data)
        return None

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = []
        for connection in dirty:
            pending = connection.pending
            if not pending or connection.closed:
                continue
            connection.pending = []
            connection.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


def _group_name(connection: _Connection) -> str:
    return connection.private_group.decode("latin-1")


def _set_socket_options(sock: socket.socket) -> None:
    """Options Spread sets on every accepted client socket (the last two for TCP only)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def _reset_on_close(transport: asyncio.Transport) -> None:
    """Make the coming close reset the connection (RST, not FIN). Spread closes a socket
    with client bytes still unread in it, and the kernel then resets the connection; this
    daemon has read those bytes already, so it asks for the reset (SO_LINGER 0)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _proc_id(hosts: Sequence[str]) -> int:
    """The group-id ``proc_id``: this daemon's IPv4 address as a number (127.0.0.1 if none)."""
    for host in hosts:
        with contextlib.suppress(OSError):
            address = socket.inet_aton(host)
            if address != bytes(4):
                return int.from_bytes(address, "big")
    return 0x7F000001


class ThreadedDaemon:
    """A ``SpreadDaemon`` with an event loop in a background thread (tests, tools)."""

    def __init__(self, **options: object) -> None:
        options.setdefault("port", 0)
        self.daemon = SpreadDaemon(**options)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="spreadbusd", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.daemon.port

    @property
    def unix_path(self) -> str | None:
        return self.daemon.unix_path

    @property
    def name(self) -> str:
        return self.daemon.name

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.daemon.start())
        except BaseException as exc:  # handed to the starting thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.daemon.stop())
        self._loop.close()

    def start(self) -> ThreadedDaemon:
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error
        return self

    def call(self, function: object, *args: object) -> object:
        """Run ``function(*args)`` in the daemon's thread and return its result."""
        future = asyncio.run_coroutine_threadsafe(_call(function, *args), self._loop)
        return future.result(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


async def _call(function, *args):  # noqa: ANN001, ANN202 - plain trampoline
    return function(*args)


# --- command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spreadbusd",
        description="Spread 4 compatible message bus daemon for SeisComP3 clients.",
    )
    parser.add_argument(
        "-n", "--name", help="this daemon's name (its entry in spread.conf); default localhost"
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="Spread configuration file (spread.conf)")
    parser.add_argument("--port", type=int, help="client port (default: the segment's port, or 4803)")
    parser.add_argument(
        "--bind",
        action="append",
        metavar="ADDRESS",
        help="address to listen on, repeatable; 0.0.0.0 for all (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--unix-dir", default=wire.UNIX_SOCKET_DIR, help="directory of the <port> unix socket"
    )
    parser.add_argument("--no-unix", action="store_true", help="do not listen on a unix socket")
    parser.add_argument(
        "--max-session-messages", type=int, help="messages queued for a slow client before it is dropped"
    )
    protection = parser.add_mutually_exclusive_group()
    protection.add_argument(
        "--protect",
        action="append",
        metavar="NAME",
        help="private name whose session is never dropped for a full queue: who sends to it is"
        f" slowed down instead; repeatable (default: {', '.join(PROTECTED_BY_DEFAULT)})",
    )
    protection.add_argument(
        "--no-protect", action="store_true", help="protect no session: drop every slow receiver, as Spread"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)"
    )
    return parser


def options_from_args(args: argparse.Namespace) -> dict:
    """``SpreadDaemon`` keyword arguments from the command line (and the configuration file)."""
    options: dict = {"name": args.name or "localhost"}
    if args.config:
        config = load_config(args.config)
        segment, entry = config.find_daemon(args.name)
        for key in config.unknown:
            log.warning("%s: unknown key %s ignored", args.config, key)
        options.update(
            name=entry.name,
            port=segment.port,
            hosts=entry.client_addresses,
            max_session_messages=config.max_session_messages,
            proc_id=int.from_bytes(socket.inet_aton(entry.address), "big"),
        )
    if args.port is not None:
        options["port"] = args.port
    if args.bind:
        options["hosts"] = [] if args.bind == ["0.0.0.0"] else args.bind
    if args.max_session_messages is not None:
        options["max_session_messages"] = args.max_session_messages
    options["unix_dir"] = None if args.no_unix else args.unix_dir
    if args.no_protect:
        options["protect"] = ()
    elif args.protect:
        options["protect"] = args.protect
    return options


async def _serve_until_signal(daemon: SpreadDaemon) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await daemon.start()
    try:
        await stop.wait()
    finally:
        log.info("daemon %s stopping", daemon.name)
        await daemon.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = args.log_level or ("DEBUG" if args.verbose >= 1 else "INFO")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        options = options_from_args(args)
        daemon = SpreadDaemon(**options)
    except (ConfigError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    try:
        asyncio.run(_serve_until_signal(daemon))
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
