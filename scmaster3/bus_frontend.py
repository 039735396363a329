"""The mediator on a Spread-compatible bus: ``_MASTER_``'s session, timers and reconnection.

:class:`BusFrontend` connects to the bus under the private name ``_MASTER_`` with membership
notices on, joins ``MASTER_GROUP`` and moves bytes between the bus
(:class:`spreadbus.aio.BusConnection`) and the mediator core (:class:`scmaster3.master.Master`):

* every regular message goes to ``Master.receive``; disconnect notices of ``MASTER_GROUP`` go
  to ``Master.member_disconnected``; what the core sends is multicast with
  FIFO|SELF_DISCARD and the body's type as Spread message type, batched per loop turn;
* reading stops while the core's intake is full or while the bus does not take our writes,
  and resumes when they drain;
* every 12 s the core publishes its own state of health, with the process items made here;
* when the session is lost the core forgets its clients and the front-end reconnects every
  second, joining ``MASTER_GROUP`` again (spec sc3-messaging.md section 3.7); data messages
  already read are relayed on the new session;
* ``stop()`` relays what was read, closes the plugins, sends MASTER_DISCONNECTED_MSG, leaves
  ``MASTER_GROUP`` and disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from scmaster3.client import iso_time
from scmaster3.host import CpuMeter, host_addresses, resident_memory_kb, total_memory_kb
from scmaster3.master import PROGRAM_NAME, Master, Send
from scmaster3.protocol import (
    MASTER_CLIENT_NAME,
    MASTER_GROUP,
    MASTER_RECONNECT_INTERVAL,
    SERVICE_TYPE,
    SOH_INTERVAL,
    format_connection_info,
)
from spreadbus import wire
from spreadbus.aio import BusConnection, BusError

log = logging.getLogger("scmaster3.bus")

_REGULAR = wire.REGULAR_MESS
_DISCONNECT_NOTICE = wire.REG_MEMB_MESS | wire.CAUSED_BY_DISCONNECT
_MASTER_GROUP_FIELD = MASTER_GROUP.encode("latin-1")


class ProcessStatus:
    """The process items of a state-of-health report (``&time=...&clientmemoryusage=...&``)."""

    def __init__(self, program_name: str = PROGRAM_NAME) -> None:
        self.program_name = program_name
        self.host_name = socket.gethostname()
        self.ips = host_addresses(self.host_name)
        self._cpu = CpuMeter()

    def connection_info(self, private_group: str) -> str:
        return format_connection_info(
            (
                ("time", iso_time(time.time())),
                ("privategroup", private_group),
                ("hostname", self.host_name),
                ("ips", self.ips),
                ("programname", self.program_name),
                ("pid", os.getpid()),
                ("cpuusage", self._cpu.percent()),
                ("totalmemory", total_memory_kb()),
                ("clientmemoryusage", resident_memory_kb()),
            )
        )


class BusFrontend:
    """Runs ``master`` as the bus client ``_MASTER_`` of the daemon at ``address``."""

    def __init__(
        self,
        master: Master,
        address: str,
        *,
        reconnect_interval: float = MASTER_RECONNECT_INTERVAL,
        soh_interval: float = SOH_INTERVAL,
        status: ProcessStatus | None = None,
    ) -> None:
        self.master = master
        self.address = address
        self.reconnect_interval = reconnect_interval
        self.soh_interval = soh_interval
        self.status = status or ProcessStatus()
        self.connection: BusConnection | None = None
        self._tasks: list[asyncio.Task] = []
        self._stopping = False
        self._connected = asyncio.Event()

    async def start(self) -> None:
        """Connect for the first time (``BusError`` if the bus is not there) and start serving."""
        await self._connect()
        self._tasks = [
            asyncio.create_task(self.master.run(), name="scmaster3-pipeline"),
            asyncio.create_task(self._keep_connected(), name="scmaster3-bus"),
            asyncio.create_task(self._report_health(), name="scmaster3-soh"),
        ]

    async def wait_connected(self) -> None:
        """Wait until the mediator has a session on the bus (after a reconnect, for example)."""
        await self._connected.wait()

    async def _connect(self) -> None:
        connection = await BusConnection.connect(self.address, MASTER_CLIENT_NAME, membership=True)
        connection.set_frame_handler(self._frames)
        connection.join(MASTER_GROUP)
        self.master.set_pressure_callback(lambda full: self._hold(connection, "intake", full))
        connection.set_write_pressure_callback(lambda full: self._hold(connection, "bus", full))
        self.connection = connection
        self.master.attach(connection.private_group, self._sender(connection))
        self._connected.set()
        log.info("connected to the bus at %s as %s", self.address, connection.private_group)

    @staticmethod
    def _hold(connection: BusConnection, reason: str, full: bool) -> None:
        if full:
            connection.pause_reading(reason)
        else:
            connection.resume_reading(reason)

    @staticmethod
    def _sender(connection: BusConnection) -> Send:
        multicast = connection.multicast

        def send(group: str | bytes, mess_type: int, body: bytes) -> None:
            multicast(SERVICE_TYPE, group, body, mess_type)

        return send

    def _frames(self, frames: list[wire.Frame]) -> None:
        master = self.master
        receive = master.receive
        for frame in frames:
            header = frame.header
            kind = header.type
            try:
                if kind & _REGULAR:
                    receive(header.sender_name.decode("latin-1"), header.msg_type, frame.data)
                    continue
                master.membership_notice()
                if (
                    kind & _DISCONNECT_NOTICE == _DISCONNECT_NOTICE
                    and header.sender_name == _MASTER_GROUP_FIELD
                ):
                    member = wire.decode_membership(frame.data, header.byteorder).changed_member
                    if member is not None:
                        master.member_disconnected(member.decode("latin-1"))
            except wire.InvalidFrame as exc:
                log.warning("malformed membership notice from the bus: %s", exc)
            except Exception:
                # A fault in handling one message must not cost the session (and every client).
                log.exception("message from %s not handled", header.sender_name.decode("latin-1"))

    async def _keep_connected(self) -> None:
        while not self._stopping:
            connection = self.connection
            assert connection is not None
            reason = await connection.wait_closed()
            if self._stopping:
                return
            self._connected.clear()
            self.master.detach()
            log.error("lost the bus session: %s; reconnecting every %g s", reason, self.reconnect_interval)
            while not self._stopping:
                await asyncio.sleep(self.reconnect_interval)
                try:
                    await self._connect()
                    break
                except BusError as exc:
                    log.debug("reconnect failed: %s", exc)

    async def _report_health(self) -> None:
        while True:
            await asyncio.sleep(self.soh_interval)
            if self.master.attached:
                self.master.state_of_health_report(self.status.connection_info(self.master.private_group))

    async def stop(self) -> None:
        """Orderly end: see the module documentation."""
        if self._stopping:
            return
        self._stopping = True
        for task in self._tasks[1:]:
            task.cancel()
        await self.master.stop()
        if self._tasks:
            self._tasks[0].cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        connection = self.connection
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(BusError):
                connection.leave(MASTER_GROUP)
                await connection.drain()
            await connection.disconnect()
        log.info("disconnected from the bus")
