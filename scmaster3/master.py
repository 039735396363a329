"""The SeisComP3 mediator core ("scmaster"): admission, relay, archive, administration, health.

This module knows the SeisComP3 messages and nothing of the transport. A front-end (the
Spread bus front-end in :mod:`scmaster3.bus_frontend`) feeds it what arrives and gives it
a function to send with:

* ``attach(private_group, send)`` when the mediator has a session on the bus (its private
  group is ``#_MASTER_#<daemon>``), ``detach()`` when the session is lost;
* ``receive(sender, mess_type, body)`` for every regular message, ``member_disconnected``
  for every disconnect notice of ``MASTER_GROUP``;
* ``send(group, mess_type, body)`` is called for every message the mediator emits (service
  type FIFO|SELF_DISCARD, Spread message type = body type);
* ``run()`` is the worker that processes data messages (a task of the front-end);
  ``state_of_health_report(info)`` the 12-second report; ``stop()`` the orderly end.

Processing follows spec sc3-messaging.md:

* Service messages are handled on arrival (they may overtake data messages): CONNECT in the
  order of checks of section 3.3, CLIENT_DISCONNECTED, ARCHIVE_REQUEST (section 4.7, see
  :mod:`scmaster3.archive`), the admin commands of section 5 and state-of-health reports
  (section 6).
* Data messages go through one pipeline in arrival order: every plugin's ``process`` hook
  (what it returns is awaited before the message goes on, while later messages are already
  handed to the plugins; see :mod:`scmaster3.plugins`), then a sync request is answered
  (section 4.5), anything else is stamped
  (section 4.3: one counter 1..63000, 0, 1, ... shared by everything the mediator emits;
  only untagged messages) and relayed unchanged otherwise (section 4.4) and archived.
* The pipeline's intake is bounded in bytes: beyond ``max_pending_bytes`` the front-end is
  asked to stop reading (``set_pressure_callback``) until half of it is processed. Reading
  is kept apart from processing, so the bus does not queue for a busy mediator.
* A message that cannot be parsed costs its sender its admission: the mediator logs the
  sender and the reason, forgets the client and sends it CLIENT_DISCONNECT_CMD_MSG; the
  message goes nowhere and everybody else goes on.

The relay path does not build message objects: it finds the stamp and the data field by
their offsets in the body and splices the stamp in, and it looks into the payload only far
enough to tell a sync request from anything else.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from scmaster3.archive import MessageArchive
from scmaster3.config import ScmasterSettings
from scmaster3.datamodel import Message, SyncRequestMessage, SyncResponseMessage
from scmaster3.io import ArchiveError
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.plugins import DataMessage, MasterPlugin, MessageRefused
from scmaster3.protocol import (
    ADMIN_GROUP,
    ALWAYS_ACCEPTED_GROUPS,
    COMPRESSED_CONTENT_TYPES,
    MASTER_GROUP,
    MAX_BODY_SIZE,
    PROTOCOL_VERSIONS,
    STATUS_GROUP,
    ClientListEntry,
    ClientStatus,
    ConnectOk,
    MessageType,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    client_name,
    client_priority_name,
    client_type_name,
    content_type_of,
    decode_message,
    format_client_list,
    format_items,
    format_list_uptime,
    format_soh_uptime,
    is_master_member,
    next_sequence_number,
    spread_mess_type,
)

log = logging.getLogger("scmaster3.master")

SERVER_VERSION = "Jakarta git-"
"""Announced as Server-Version: the SeisComP3 release whose messaging this mediator speaks."""

PROGRAM_NAME = "scmaster"
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
_BATCH = 256  # data messages processed between two looks at the socket
_IN_FLIGHT = 1024  # data messages handed to the plugins and not yet relayed

Send = Callable[[str | bytes, int, bytes], None]
"""``send(group, mess_type, body)``: multicast one body to a group (FIFO|SELF_DISCARD)."""

_INT32 = struct.Struct("<i")
_TWO_INT32 = struct.Struct("<ii")
_TAGGED = _INT32.pack(1)
_SYNC_REQUEST_CLASS = b"sync_request_message"
# Bytes of a payload inflated to tell a sync request: the class name comes within the first
# 40 bytes of a binary archive, and after the prolog and root element (under 200 bytes) of XML.
_SYNC_PEEK = 256


class MalformedMessage(Exception):
    """A body that is not a valid SeisComP3 message; ``reason`` says why."""


@dataclass
class ClientRecord:
    """An admitted client: what the list and the health reports tell about it."""

    private_group: str
    client_type: int
    client_priority: int
    status: ClientStatus
    admitted_at: float


class ClientTable:
    """Admitted clients in admission order. Like SeisComP3 it keeps duplicates: a second
    CONNECT from one private group adds a second record, and each disconnect removes one."""

    def __init__(self) -> None:
        self._records: list[ClientRecord] = []

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ClientRecord]:
        return iter(self._records)

    def add(self, record: ClientRecord) -> None:
        self._records.append(record)

    def find(self, private_group: str) -> ClientRecord | None:
        for record in self._records:
            if record.private_group == private_group:
                return record
        return None

    def remove(self, private_group: str) -> ClientRecord | None:
        """Remove the first record of ``private_group``; None if there is none."""
        for index, record in enumerate(self._records):
            if record.private_group == private_group:
                del self._records[index]
                return record
        return None

    def clear(self) -> None:
        self._records.clear()


class DataBodyView:
    """Offsets of the fields of a complete NetworkMessage body (nothing copied).

    ``_Incomplete`` for a body that ends before its last field, MalformedMessage for one that
    is too large.
    """

    __slots__ = ("body", "type", "destination", "stamp_at", "data_at", "data_end", "sender_end", "tagged")

    def __init__(self, body: bytes) -> None:
        size = len(body)
        if size > MAX_BODY_SIZE:
            raise MalformedMessage(f"body of {size} bytes exceeds {MAX_BODY_SIZE}")
        if size < 8:
            raise _Incomplete
        type_, dest_len = _TWO_INT32.unpack_from(body, 0)
        stamp_at = 8 + dest_len
        if dest_len < 0 or stamp_at + 12 > size:
            raise _Incomplete
        data_len = _INT32.unpack_from(body, stamp_at + 8)[0]
        data_at = stamp_at + 12
        data_end = data_at + data_len
        if data_len < 0 or data_end + 4 > size:
            raise _Incomplete
        sender_len = _INT32.unpack_from(body, data_end)[0]
        sender_end = data_end + 4 + sender_len
        if sender_len < 0 or sender_end + 4 > size:
            raise _Incomplete
        self.body = body
        self.type = type_
        self.destination = body[8:stamp_at]
        self.stamp_at = stamp_at
        self.data_at = data_at
        self.data_end = data_end
        self.sender_end = sender_end
        self.tagged = _INT32.unpack_from(body, sender_end)[0]

    @property
    def data(self) -> bytes:
        return self.body[self.data_at : self.data_end]

    @property
    def private_sender_group(self) -> str:
        return self.body[self.data_end + 4 : self.sender_end].decode("latin-1")

    def stamped(self, seq_num: int, timestamp: int) -> bytes:
        """The same body with seqNum, timeStamp and tagged = 1 (trailing bytes dropped)."""
        body, at = self.body, self.stamp_at
        return body[:at] + _TWO_INT32.pack(seq_num, timestamp) + body[at + 8 : self.sender_end] + _TAGGED

    def complete(self) -> bytes:
        """The body up to its last field."""
        end = self.sender_end + 4
        return self.body if len(self.body) == end else self.body[:end]


class _Incomplete(Exception):
    """The body ends before its last field (the lenient decoder then fills in defaults)."""


def scan_data_body(body: bytes) -> DataBodyView:
    """The relay's reading of a data message body: what ``NetworkMessage.decode`` reads, found
    by offsets. MalformedMessage where the decoder raises ProtocolError."""
    try:
        return DataBodyView(body)
    except _Incomplete:
        pass
    # A body that ends between two fields leaves them at their defaults (spec section 2.6).
    try:
        message = NetworkMessage.decode(body)
    except ProtocolError as exc:
        raise MalformedMessage(str(exc)) from None
    return DataBodyView(message.encode())


def _may_be_sync_request(type_: int, data: bytes) -> bool:
    """Whether the payload's first bytes name the class sync_request_message (cheap filter)."""
    content = content_type_of(type_)
    if content in COMPRESSED_CONTENT_TYPES:
        try:
            head = zlib.decompressobj().decompress(data, _SYNC_PEEK)
        except zlib.error:
            return False
    else:
        head = data[:_SYNC_PEEK]
    return _SYNC_REQUEST_CLASS in head


class _InFlight:
    """A data message handed to the plugins, waiting for what they return to complete."""

    __slots__ = ("sender", "view", "message", "outcomes")

    def __init__(self, sender: str, view: DataBodyView, message: DataMessage) -> None:
        self.sender = sender
        self.view = view
        self.message = message
        self.outcomes: list[tuple[MasterPlugin, asyncio.Future]] = []

    def done(self) -> bool:
        return all(outcome.done() for _, outcome in self.outcomes)

    async def wait(self) -> None:
        pending = [outcome for _, outcome in self.outcomes if not outcome.done()]
        if pending:
            await asyncio.wait(pending)


def _failed(exc: Exception) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


def _int32_time(seconds: float) -> int:
    """Unix seconds as SeisComP3 writes a time_t: truncated to a signed 32-bit integer."""
    return ((int(seconds) + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class Master:
    """The mediator. See the module documentation for how a front-end drives it."""

    def __init__(
        self,
        settings: ScmasterSettings,
        plugins: Sequence[MasterPlugin] = (),
        *,
        archive: MessageArchive | None = None,
        clock: Callable[[], float] = time.time,
        server_version: str = SERVER_VERSION,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
    ) -> None:
        self.settings = settings
        self.plugins = list(plugins)
        self.archive = archive if archive is not None else MessageArchive()
        self.clients = ClientTable()
        self.private_group = ""
        self.admin_group = ""
        self.clock = clock
        self.started_at = clock()
        self.max_pending_bytes = max_pending_bytes
        self._accepted_groups = frozenset(settings.msg_groups) | ALWAYS_ACCEPTED_GROUPS
        self._group_list = ConnectOk(tuple(settings.msg_groups), server_version, settings.schema_version)
        self._counter = 0
        self._send: Send | None = None
        self._held: collections.deque[tuple[str | bytes, int, bytes]] = collections.deque()
        self._intake: collections.deque[tuple[str, bytes]] = collections.deque()
        self._intake_bytes = 0
        self._in_flight: collections.deque[_InFlight] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._pressure: Callable[[bool], None] | None = None
        self._pressing = False
        self._stopping = False
        self.sent_messages = 0
        self.received_messages = 0
        self.summed_message_queue_size = 0

    # --- wiring -----------------------------------------------------------------------------

    def attach(self, private_group: str, send: Send) -> None:
        """A new bus session: the client table starts empty (clients re-handshake, §3.7)."""
        self.private_group = private_group
        self._send = send
        self.clients.clear()
        self.admin_group = ""
        while self._held:
            if not self._emit(*self._held[0]):
                break
            self._held.popleft()
        self._wake()

    def detach(self) -> None:
        """The bus session is gone: forget the clients; data already read waits for the next one."""
        self._send = None
        self.clients.clear()
        self.admin_group = ""

    @property
    def attached(self) -> bool:
        return self._send is not None

    def set_pressure_callback(self, callback: Callable[[bool], None] | None) -> None:
        """``callback(True)``: stop reading, the intake is full; ``callback(False)``: read again."""
        self._pressure = callback

    @property
    def pending_messages(self) -> int:
        """Data messages received and not yet relayed (SOH ``messagequeuesize``)."""
        return len(self._intake) + len(self._in_flight)

    # --- sending ----------------------------------------------------------------------------

    def next_sequence_number(self) -> int:
        self._counter = next_sequence_number(self._counter)
        return self._counter

    def _stamp(self) -> tuple[int, int]:
        return self.next_sequence_number(), _int32_time(self.clock())

    def _emit(self, group: str | bytes, mess_type: int, body: bytes) -> bool:
        """Send one body; False when there is no session to send it on (any more)."""
        send = self._send
        if send is None:
            return False
        try:
            send(group, mess_type, body)
        except Exception as exc:  # the session ended and the front-end has not detached yet
            log.debug("not sent to %r: %s", group, exc)
            return False
        self.sent_messages += 1
        return True

    def _send_service(self, message: ServiceMessage) -> None:
        """Stamp and send a service message the mediator made, to its destination."""
        if not message.destination:
            log.debug("%s without destination not sent", MessageType(message.type).name)
            return
        seq_num, timestamp = self._stamp()
        self._emit(message.destination, message.mess_type, message.stamped(seq_num, timestamp).encode())

    def _send_payload(self, destination: str, payload: Message) -> None:
        """Stamp and send a message of the mediator's own (binary, current schema) to a client."""
        seq_num, timestamp = self._stamp()
        body = NetworkMessage(
            MessageType.DATA_MSG, destination, seq_num, timestamp, encode_payload(payload), "", 1
        ).encode()
        self._emit(destination, MessageType.DATA_MSG, body)

    def _reply(
        self, request: ServiceMessage, type_: int, data: str = "", protocol_version: str = "1.0"
    ) -> None:
        self._send_service(
            ServiceMessage(
                type_,
                destination=request.private_sender_group,
                data=data.encode("latin-1"),
                private_sender_group=self.private_group,
                protocol_version=protocol_version,
            )
        )

    # --- input ------------------------------------------------------------------------------

    def receive(self, sender: str, mess_type: int, body: bytes) -> None:
        """A regular message from the bus: ``sender`` is its Spread sender (a private group)."""
        self.received_messages += 1
        if mess_type > 0:
            self._intake.append((sender, body))
            self._intake_bytes += len(body)
            self.summed_message_queue_size += len(self._intake)
            if self._intake_bytes > self.max_pending_bytes and not self._pressing:
                self._set_pressure(True)
            wakeup = self._wakeup
            if wakeup is not None and not wakeup.is_set():
                wakeup.set()
        elif mess_type < 0:
            try:
                message = decode_message(body, mess_type)
            except ProtocolError as exc:
                self._drop_client(sender, f"malformed service message: {exc}")
                return
            assert isinstance(message, ServiceMessage)
            self._handle_service(message)
        # Spread message type 0 carries no SeisComP3 message: ignored.

    def membership_notice(self) -> None:
        """Any membership notice counts as a received message (SOH ``receivedmessages``)."""
        self.received_messages += 1

    def member_disconnected(self, member: str) -> None:
        """A member of MASTER_GROUP disconnected: like its CLIENT_DISCONNECTED_MSG."""
        if member == self.private_group or is_master_member(member):
            return
        self._client_disconnected(member)

    def _drop_client(self, sender: str, reason: str) -> None:
        log.warning("dropping client %s: %s", sender or "?", reason)
        if not sender or sender == self.private_group:
            return
        while self.clients.remove(sender) is not None:
            pass
        if self.admin_group == sender:
            self.admin_group = ""
        self._order_disconnect(sender)

    def _order_disconnect(self, private_group: str) -> None:
        """Tell a client to disconnect; a SeisComP3 client says goodbye and ends."""
        self._send_service(
            ServiceMessage(
                MessageType.CLIENT_DISCONNECT_CMD_MSG,
                destination=private_group,
                private_sender_group=self.private_group,
            )
        )

    # --- service messages -------------------------------------------------------------------

    def _handle_service(self, message: ServiceMessage) -> None:
        handler = self._SERVICE_HANDLERS.get(message.type)
        if handler is not None:
            handler(self, message)

    def _connect(self, request: ServiceMessage) -> None:
        """CONNECT_GROUP_MSG: the checks of spec section 3.3, in their order."""
        requester = request.private_sender_group
        if not requester:
            log.warning("CONNECT_GROUP_MSG without privateSenderGroup ignored: it cannot be answered")
            return
        if request.protocol_version not in PROTOCOL_VERSIONS:
            log.info("%s: protocol version %r not supported", requester, request.protocol_version)
            self._reply(request, MessageType.INVALID_PROTOCOL_MSG)
            return
        if request.peer_group not in self._accepted_groups:
            log.info("%s: primary group %r not accepted", requester, request.peer_group)
            self._reply(request, MessageType.CONNECT_GROUP_REJECT_MSG)
            return
        name = client_name(requester)
        admin_name = self.settings.admin_name
        if request.peer_group == ADMIN_GROUP or name == admin_name:
            if request.peer_group != ADMIN_GROUP or name != admin_name:
                log.info("%s: only %s may use %s, and only with it", requester, admin_name, ADMIN_GROUP)
                self._reply(request, MessageType.ADMIN_REJECT_MSG)
                return
            password = self.settings.admin_password
            if password and request.password != password:
                log.info("%s: wrong admin password", requester)
                self._reply(request, MessageType.ADMIN_REJECT_MSG)
                return
            self.admin_group = requester
        self._reply(
            request,
            MessageType.CONNECT_GROUP_OK_MSG,
            self._group_list.format(request.protocol_version),
            request.protocol_version,
        )
        for plugin in self.plugins:
            payload = plugin.service_message()
            if payload is not None:
                self._send_payload(requester, payload)
        self.clients.add(
            ClientRecord(
                requester,
                request.client_type,
                request.client_priority,
                ClientStatus.parse(request.text),
                self.clock(),
            )
        )
        log.info("client %s connected, primary group %s", requester, request.peer_group)

    def _client_disconnected(self, private_group: str) -> None:
        if client_name(private_group) == self.settings.admin_name:
            self.admin_group = ""
        if self.clients.remove(private_group) is not None:
            log.info("client %s disconnected", private_group)

    def _on_client_disconnected(self, message: ServiceMessage) -> None:
        self._client_disconnected(message.private_sender_group)

    def _archive_request(self, request: ServiceMessage) -> None:
        replay = self.archive.replay(request.archive_seq_num, request.archive_timestamp)
        if replay is None:
            self._reply(request, MessageType.INVAlID_ARCHIVE_REQUEST_MSG)
            return
        target = request.private_sender_group
        log.info("%s: replaying %d archived messages from %d", target, len(replay), request.archive_seq_num)
        for entry in replay:
            self._emit(target, MessageType.ARCHIVE_MSG, entry.archive_copy())

    def _is_admin(self, request: ServiceMessage) -> bool:
        if client_name(request.private_sender_group) == self.settings.admin_name:
            return True
        log.info(
            "%s: command %s refused, not the admin",
            request.private_sender_group,
            MessageType(request.type).name,
        )
        self._reply(request, MessageType.REJECTED_CMD_MSG)
        return False

    def _list_clients(self, request: ServiceMessage) -> None:
        if not self._is_admin(request):
            return
        now = self.clock()
        entries = (
            ClientListEntry(
                record.private_group,
                client_type_name(record.client_type),
                client_priority_name(record.client_priority),
                record.status.program_name,
                record.status.host_name,
                record.status.ips,
                format_list_uptime(int(now - record.admitted_at)),
            )
            for record in self.clients
        )
        self._reply(request, MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG, format_client_list(entries))

    def _disconnect_client(self, request: ServiceMessage) -> None:
        if not self._is_admin(request):
            return
        target = request.text
        if self.clients.find(target) is None:
            self._reply(request, MessageType.REJECTED_CMD_MSG)
            return
        self._order_disconnect(target)
        self.clients.remove(target)
        log.info("client %s disconnected by %s", target, request.private_sender_group)

    def _state_of_health_command(self, request: ServiceMessage) -> None:
        if not self._is_admin(request):
            return
        target = request.text
        if self.clients.find(target) is None and target not in self._accepted_groups:
            self._reply(request, MessageType.REJECTED_CMD_MSG)
            return
        self._send_service(
            ServiceMessage(
                MessageType.STATE_OF_HEALTH_CMD_MSG,
                destination=target,
                private_sender_group=self.admin_group or request.private_sender_group,
            )
        )

    def _state_of_health_response(self, report: ServiceMessage) -> None:
        """A client's report: republished with its uptime (spec section 6.3)."""
        reporter = report.private_sender_group
        record = self.clients.find(reporter)
        if record is None:
            log.debug("state of health of %s dropped: not in the client table", reporter)
            return
        self._republish(report, report.text, self.clock() - record.admitted_at)

    def _republish(self, report: ServiceMessage, data: str, uptime: float) -> None:
        destination = STATUS_GROUP if report.destination == STATUS_GROUP else self.admin_group
        data += format_items((("uptime", format_soh_uptime(int(uptime))),))
        self._send_service(
            ServiceMessage(
                MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
                destination=destination,
                data=data.encode("latin-1"),
                private_sender_group=report.private_sender_group,
            )
        )

    _SERVICE_HANDLERS: dict[int, Callable[[Master, ServiceMessage], None]] = {
        MessageType.CONNECT_GROUP_MSG: _connect,
        MessageType.CLIENT_DISCONNECTED_MSG: _on_client_disconnected,
        MessageType.ARCHIVE_REQUEST_MSG: _archive_request,
        MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG: _list_clients,
        MessageType.CLIENT_DISCONNECT_CMD_MSG: _disconnect_client,
        MessageType.STATE_OF_HEALTH_CMD_MSG: _state_of_health_command,
        MessageType.STATE_OF_HEALTH_RESPONSE_MSG: _state_of_health_response,
    }

    # --- the mediator's own state of health -------------------------------------------------

    def state_of_health_report(self, connection_info: str) -> None:
        """Publish the mediator's own report to STATUS_GROUP (every 12 s, spec section 6.2).

        ``connection_info`` holds the process items (``&time=...&privategroup=...&...
        &clientmemoryusage=...&``); the mediator's counters, the plugins' items and its
        uptime are appended.
        """
        data = connection_info + format_items(
            (
                ("messagequeuesize", self.pending_messages),
                ("summedmessagequeuesize", self.summed_message_queue_size),
                ("sentmessages", self.sent_messages),
                ("receivedmessages", self.received_messages),
            )
        )
        for plugin in self.plugins:
            try:
                data += plugin.state_of_health()
            except Exception:
                log.exception("plugin %s failed to report its state of health", plugin.name)
        report = ServiceMessage(
            MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
            destination=STATUS_GROUP,
            private_sender_group=self.private_group,
        )
        self._republish(report, data, self.clock() - self.started_at)

    # --- data messages ----------------------------------------------------------------------

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.is_set():
            self._wakeup.set()

    def _set_pressure(self, on: bool) -> None:
        self._pressing = on
        if on:
            log.warning("%d bytes of data messages waiting; reading from the bus paused", self._intake_bytes)
        if self._pressure is not None:
            self._pressure(on)

    async def run(self) -> None:
        """Process data messages in arrival order, for as long as the task runs.

        Plugins see each message as it is taken from the intake; what they return to await
        is awaited only before that message is relayed, so later messages can be handed to
        them meanwhile (up to ``_IN_FLIGHT`` messages): a plugin that stores messages can
        batch them. Relay order stays arrival order.
        """
        self._wakeup = wakeup = asyncio.Event()
        intake = self._intake
        in_flight = self._in_flight
        plugins = self.plugins
        while True:
            while not (in_flight or (intake and self._send is not None)):
                wakeup.clear()
                await wakeup.wait()
            taken = 0
            while intake and taken < _BATCH and len(in_flight) < _IN_FLIGHT and self._send is not None:
                sender, body = intake.popleft()
                self._intake_bytes -= len(body)
                taken += 1
                try:
                    view = scan_data_body(body)
                    if view.type <= 0:
                        raise MalformedMessage(f"body type {view.type} in a data message")
                except MalformedMessage as exc:
                    self._drop_client(sender, f"malformed data message: {exc}")
                    continue
                try:
                    if plugins:
                        in_flight.append(self._hand_to_plugins(sender, view))
                    else:
                        self._relay(sender, view, None)
                except Exception:
                    log.exception("data message from %s not relayed", sender)
                self._finish_done()
            if self._pressing and self._intake_bytes <= self.max_pending_bytes // 2:
                self._set_pressure(False)
            if in_flight and (not intake or len(in_flight) >= _IN_FLIGHT or self._send is None):
                await in_flight[0].wait()
                self._finish_done()
            else:
                # Let the loop read the socket between batches: the bus must not queue for us.
                await asyncio.sleep(0)

    def _hand_to_plugins(self, sender: str, view: DataBodyView) -> _InFlight:
        message = DataMessage(
            sender, view.type, view.destination.decode("latin-1"), view.data, view.private_sender_group
        )
        entry = _InFlight(sender, view, message)
        for plugin in self.plugins:
            try:
                outcome = plugin.process(message)
            except Exception as exc:
                entry.outcomes.append((plugin, _failed(exc)))
                break
            if inspect.isawaitable(outcome):
                entry.outcomes.append((plugin, asyncio.ensure_future(outcome)))
        return entry

    def _finish_done(self) -> None:
        """Relay (or refuse) the settled messages at the head of the in-flight queue."""
        in_flight = self._in_flight
        while in_flight and in_flight[0].done():
            entry = in_flight.popleft()
            try:
                self._finish(entry)
            except Exception:
                log.exception("data message from %s not relayed", entry.sender)

    def _finish(self, entry: _InFlight) -> None:
        for plugin, outcome in entry.outcomes:
            exc = outcome.exception()
            if exc is None:
                continue
            if isinstance(exc, MessageRefused):
                self._refused(entry.message, plugin, exc.reason)
            else:
                log.error(
                    "plugin %s failed on a message from %s: %r",
                    plugin.name,
                    entry.message.private_sender_group,
                    exc,
                    exc_info=exc,
                )
                self._refused(entry.message, plugin, f"internal error: {exc}")
            return
        self._relay(entry.sender, entry.view, entry.message)

    def _refused(self, message: DataMessage, plugin: MasterPlugin, reason: str) -> None:
        text = f"message to {message.destination} refused by {plugin.name}: {reason}"
        log.warning("%s: %s", message.private_sender_group, text)
        self._send_service(
            ServiceMessage(
                MessageType.REJECTED_CMD_MSG,
                destination=message.private_sender_group,
                data=text.encode("latin-1", "replace"),
                private_sender_group=self.private_group,
            )
        )

    def _relay(self, sender: str, view: DataBodyView, message: DataMessage | None) -> None:
        type_ = view.type
        data = view.data
        if _may_be_sync_request(type_, data):
            request = message.payload if message is not None else _decode_quietly(type_, data)
            if isinstance(request, SyncRequestMessage):
                requester = view.private_sender_group
                self._send_payload(requester, SyncResponseMessage(id=request.id))
                return
        destination = view.destination
        if not destination:
            log.debug("data message from %s without destination dropped", sender)
            return
        if view.tagged:
            body = view.complete()
            seq_num, timestamp = _TWO_INT32.unpack_from(body, view.stamp_at)
        else:
            seq_num, timestamp = self._stamp()
            body = view.stamped(seq_num, timestamp)
        mess_type = spread_mess_type(type_)
        if not self._emit(destination, mess_type, body):
            self._held.append((destination, mess_type, body))  # relayed on the next session
        self.archive.store(seq_num, timestamp, body)

    # --- stop -------------------------------------------------------------------------------

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Orderly end (spec section 3.7): relay what was read (for up to ``drain_timeout``
        seconds), close the plugins, send MASTER_DISCONNECTED_MSG to MASTER_GROUP."""
        if self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + drain_timeout
        while self.pending_messages and self._send is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for plugin in self.plugins:
            try:
                outcome = plugin.close()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("plugin %s failed to close", plugin.name)
        self._send_service(
            ServiceMessage(
                MessageType.MASTER_DISCONNECTED_MSG,
                destination=MASTER_GROUP,
                private_sender_group=self.private_group,
            )
        )


def _decode_quietly(type_: int, data: bytes) -> Message | None:
    try:
        return decode_payload(data, content_type_of(type_))
    except ArchiveError:
        return None
