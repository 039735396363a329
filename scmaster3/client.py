"""Client library of the SeisComP3 messaging protocol: the module side of scmaster.

Two layers, as in the rest of the project:

``ClientSession``
    The protocol logic alone (sans-IO). It builds every body a client multicasts (the
    CONNECT_GROUP_MSG of the handshake, data messages, admin commands, state-of-health
    reports, the graceful CLIENT_DISCONNECTED_MSG) as :class:`Multicast` values, and
    classifies what arrives: the handshake answer (:class:`Answer`), then, once admitted,
    each Spread message or membership notice as an event (:class:`Delivery`,
    :class:`MasterGone`, :class:`DisconnectOrdered`, :class:`StatusRequested`,
    :class:`DatabaseOffered`, :class:`SyncAnswered`, :class:`Dropped`) or ``None`` when the
    library drops it silently (section 4.8 of the messaging spec).

``Connection``
    Drives a session over a mailbox of the ``spread`` API (``spreadbus`` by default, or any
    module with the same surface, such as ``spreadbus.libspread``). A reader thread only moves
    received Spread messages into a queue; everything else (handshake, filtering, sending,
    the periodic state-of-health report) runs in the caller's thread, inside the calls.

Failures are :class:`ClientError` subclasses named after the SeisComP3 error they stand for
(``SEISCOMP_TIMEOUT_ERROR`` is :class:`HandshakeTimeoutError`, and so on).
"""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from scmaster3.datamodel import Message as CoreMessage
from scmaster3.datamodel import SyncRequestMessage, Version
from scmaster3.host import CpuMeter, host_addresses, resident_memory_kb, total_memory_kb
from scmaster3.io import ArchiveError
from scmaster3.io.payload import decode_payload, encode_payload
from scmaster3.protocol import (
    ADMIN_GROUP,
    LISTENER_GROUP,
    MASTER_GROUP,
    MAX_BODY_SIZE,
    MAX_CLIENT_NAME_LENGTH,
    PROTOCOL_VERSION_V1_0,
    PROTOCOL_VERSION_V1_1,
    PROTOCOL_VERSIONS,
    SCHEMA_VERSION,
    SERVICE_TYPE,
    SOH_INTERVAL,
    STATUS_GROUP,
    ClientPriority,
    ClientType,
    ConnectOk,
    ContentType,
    MembershipChange,
    Message,
    MessageType,
    NetworkMessage,
    ProtocolError,
    ServiceMessage,
    data_type,
    decode_message,
    format_connection_info,
    is_master_member,
    spread_daemon_address,
    with_default_groups,
)
from spreadbus.wire import CAUSED_BY_DISCONNECT, CAUSED_BY_JOIN, CAUSED_BY_LEAVE, REJECT_NOT_UNIQUE

log = logging.getLogger("scmaster3.client")


RECEIVE_QUEUE_LIMIT = 1000
"""Received messages a connection holds for the application before it stops reading the bus
(then the daemon queues them, and drops the session when its own limit is reached, as it does
for any slow reader)."""

ENCODINGS: dict[str, ContentType] = {
    "binary": ContentType.CONTENT_BINARY,
    "xml": ContentType.CONTENT_XML,
}
"""The ``connection.encoding`` names a client can send with."""

# Replies a client library queues for the application (section 4.8); every other service
# message that is not handled by the library itself is dropped.
_QUEUED_SERVICE_TYPES = frozenset(
    {
        MessageType.CLIENT_DISCONNECTED_MSG,
        MessageType.JOIN_GROUP_MSG,
        MessageType.LEAVE_GROUP_MSG,
        MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
        MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG,
        MessageType.REJECTED_CMD_MSG,
    }
)


# ---------------------------------------------------------------------------------------------
# Errors


class ClientError(Exception):
    """Base of every error of the client library."""


class InvalidClientNameError(ClientError, ValueError):
    """The client name is longer than Spread allows (SEISCOMP_INVALID_CLIENT_NAME_ERROR)."""


class BusConnectError(ClientError):
    """The Spread daemon could not be reached or refused the session.

    ``code`` is the Spread error code when the daemon or library gave one.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ClientNameNotUniqueError(BusConnectError):
    """Another session uses this client name on the daemon (SEISCOMP_CLIENT_NAME_NOT_UNIQUE)."""


class HandshakeTimeoutError(ClientError, TimeoutError):
    """No answer to CONNECT_GROUP_MSG within the timeout (SEISCOMP_TIMEOUT_ERROR)."""


class WrongServerVersionError(ClientError):
    """The master speaks no protocol version this client knows (SEISCOMP_WRONG_SERVER_VERSION)."""


class ConnectRejectedError(ClientError):
    """The master refused the connection (SEISCOMP_CONNECT_ERROR); ``answer`` is its reply."""

    def __init__(self, message: str, answer: ServiceMessage) -> None:
        super().__init__(message)
        self.answer = answer


class GroupRejectedError(ConnectRejectedError):
    """CONNECT_GROUP_REJECT_MSG: the master does not accept the primary group."""


class AdminRejectedError(ConnectRejectedError):
    """ADMIN_REJECT_MSG: admin name, group or password refused."""


class NotConnectedError(ClientError):
    """The operation needs an admitted connection (SEISCOMP_NOT_CONNECTED_ERROR)."""


class ConnectionLostError(NotConnectedError):
    """The Spread session ended (the daemon closed it or the socket failed)."""


class MasterDisconnectedError(NotConnectedError):
    """The master went away (MASTER_DISCONNECTED_MSG or its Spread disconnect notice)."""


class ForcedDisconnectError(NotConnectedError):
    """An administrator disconnected this client (CLIENT_DISCONNECT_CMD_MSG)."""


class InvalidGroupError(ClientError, ValueError):
    """A group this client may not use for that purpose (SEISCOMP_INVALID_GROUP_ERROR)."""


class MessageSizeError(ClientError, ValueError):
    """The serialized body exceeds 1 MiB (SEISCOMP_MESSAGE_SIZE_ERROR); nothing was sent."""


class SyncTimeoutError(ClientError, TimeoutError):
    """No sync_response_message with the requested id arrived in time."""


# ---------------------------------------------------------------------------------------------
# What the session asks for and what it makes of received messages


@dataclass(frozen=True)
class Multicast:
    """One Spread multicast to perform: ``body`` to ``group`` with Spread ``msg_type``."""

    group: str
    msg_type: int
    body: bytes
    service: int = SERVICE_TYPE


class Answer(enum.Enum):
    """What a message received during the handshake means."""

    IGNORED = "not the answer; keep waiting"
    RETRY = "the master wants protocol 1.0; send the new connect request"
    ADMITTED = "connection accepted"


@dataclass(frozen=True)
class Delivery:
    """A message for the application: data, or one of the queued service messages."""

    message: Message


@dataclass(frozen=True)
class _ServiceEvent:
    """A service message the library acts on itself rather than queueing it."""

    message: ServiceMessage


class MasterGone(_ServiceEvent):
    """The master disconnected; the session is over."""


class DisconnectOrdered(_ServiceEvent):
    """An administrator ordered this client to disconnect; send ``disconnect_message()``."""


class StatusRequested(_ServiceEvent):
    """An administrator asked for a state-of-health report, to be sent to ``requester``."""

    @property
    def requester(self) -> str:
        return self.message.private_sender_group


@dataclass(frozen=True)
class DatabaseOffered:
    """The master's DatabaseProvideMessage: database driver and read connection."""

    service: str
    parameters: str

    @property
    def url(self) -> str:
        """``<service>://<parameters>``, as SeisComP3 modules connect to it."""
        return f"{self.service}://{self.parameters}"


@dataclass(frozen=True)
class SyncAnswered:
    """The master answered a sync_request_message with this id."""

    sync_id: str


@dataclass(frozen=True)
class Dropped:
    """A received message that could not be read; ``reason`` says why."""

    sender: str
    reason: str


Event = Delivery | MasterGone | DisconnectOrdered | StatusRequested | DatabaseOffered | SyncAnswered | Dropped


def content_type_of_encoding(encoding: str | int) -> ContentType:
    """The content type of an encoding name (``binary``, ``xml``) or number."""
    if isinstance(encoding, str):
        try:
            return ENCODINGS[encoding.lower()]
        except KeyError:
            raise ValueError(f"unknown encoding {encoding!r} (known: {', '.join(ENCODINGS)})") from None
    return ContentType(encoding)


class _State(enum.Enum):
    IDLE = "idle"
    HANDSHAKE = "waiting for the master's answer"
    CONNECTED = "connected"
    CLOSED = "closed"


class ClientSession:
    """The client side of one connection to the master, without I/O.

    ``private_group`` is the one Spread assigned (``#name#daemon``). The caller joins
    MASTER_GROUP at the Spread level, multicasts :meth:`connect_request`, feeds every regular
    message to :meth:`handshake_answer` until it says ``ADMITTED`` (sending a new connect
    request on ``RETRY``), then feeds regular messages to :meth:`receive` and membership
    notices to :meth:`membership`, and multicasts what :meth:`data_message`,
    :meth:`message`, :meth:`command`, :meth:`status_report` and :meth:`disconnect_message`
    return.
    """

    def __init__(
        self,
        private_group: str,
        primary_group: str = LISTENER_GROUP,
        *,
        client_type: int = ClientType.TYPE_DEFAULT,
        client_priority: int = ClientPriority.PRIORITY_DEFAULT,
        password: str = "",
        encoding: str | int = "binary",
        protocol_version: str = PROTOCOL_VERSION_V1_1,
        schema_version: tuple[int, int] = SCHEMA_VERSION,
    ) -> None:
        if primary_group == MASTER_GROUP:
            raise InvalidGroupError(f"{MASTER_GROUP} cannot be the primary group")
        if protocol_version not in PROTOCOL_VERSIONS:
            raise ValueError(f"unknown protocol version {protocol_version!r}")
        self.private_group = private_group
        self.primary_group = primary_group
        self.client_type = client_type
        self.client_priority = client_priority
        self.password = password
        self.content_type = content_type_of_encoding(encoding)
        self.protocol_version = protocol_version
        self.own_schema_version = schema_version
        self.master_group: str | None = None
        self.groups: tuple[str, ...] = ()
        self.server_version: str | None = None
        self.schema_version: tuple[int, int] = (0, 0)
        self.archive_groups: set[str] = set()
        self._state = _State.IDLE

    @property
    def connected(self) -> bool:
        return self._state is _State.CONNECTED

    # --- handshake (section 3.2) ---------------------------------------------------------------

    def connect_request(self, info: str) -> Multicast:
        """The CONNECT_GROUP_MSG to MASTER_GROUP; ``info`` is the connection-info string."""
        if self._state not in (_State.IDLE, _State.HANDSHAKE):
            raise ClientError(f"cannot send a connect request in state {self._state.value}")
        self._state = _State.HANDSHAKE
        request = ServiceMessage(
            type=MessageType.CONNECT_GROUP_MSG,
            destination=MASTER_GROUP,
            data=info.encode("latin-1"),
            private_sender_group=self.private_group,
            protocol_version=self.protocol_version,
            client_type=self.client_type,
            client_priority=self.client_priority,
            password=self.password,
            peer_group=self.primary_group,
        )
        return Multicast(MASTER_GROUP, request.mess_type, request.encode())

    def handshake_answer(self, sender: str, msg_type: int, body: bytes) -> Answer:
        """Judge one regular message received while waiting for the master's answer.

        The answer is the first message whose body is addressed to the own private group;
        everything else is ignored. Raises :class:`WrongServerVersionError` or a
        :class:`ConnectRejectedError` for a negative answer (the session is then closed).
        """
        if self._state is not _State.HANDSHAKE:
            raise ClientError(f"no handshake in progress (state {self._state.value})")
        try:
            answer = decode_message(body, msg_type)
        except ProtocolError:
            return Answer.IGNORED
        if answer.destination != self.private_group:
            return Answer.IGNORED
        kind = answer.type
        if kind == MessageType.CONNECT_GROUP_OK_MSG:
            assert isinstance(answer, ServiceMessage)
            return self._admit(sender, answer)
        self._state = _State.CLOSED
        if kind == MessageType.INVALID_PROTOCOL_MSG:
            assert isinstance(answer, ServiceMessage)
            if (
                answer.protocol_version == PROTOCOL_VERSION_V1_0
                and self.protocol_version != PROTOCOL_VERSION_V1_0
            ):
                self.protocol_version = PROTOCOL_VERSION_V1_0
                self._state = _State.IDLE
                return Answer.RETRY
            raise WrongServerVersionError(
                f"the master refused protocol {self.protocol_version} and offers {answer.protocol_version!r}"
            )
        if kind == MessageType.CONNECT_GROUP_REJECT_MSG:
            raise GroupRejectedError(f"the master does not accept primary group {self.primary_group}", answer)
        if kind == MessageType.ADMIN_REJECT_MSG:
            raise AdminRejectedError(
                f"the master refused {self.private_group} with primary group {self.primary_group}"
                " (admin name, group or password)",
                answer,
            )
        raise ConnectRejectedError(
            f"unexpected answer {MessageType(kind).name if kind < 0 else kind}", answer
        )

    def _admit(self, sender: str, answer: ServiceMessage) -> Answer:
        if answer.protocol_version not in PROTOCOL_VERSIONS:
            self._state = _State.CLOSED
            raise WrongServerVersionError(f"the master answered with protocol {answer.protocol_version!r}")
        ok = ConnectOk.parse(answer.text, answer.protocol_version)
        self.protocol_version = answer.protocol_version
        self.master_group = sender
        self.groups = with_default_groups(ok.groups)
        self.server_version = ok.server_version
        self.schema_version = ok.encoding_schema_version(answer.protocol_version, self.own_schema_version)
        self._state = _State.CONNECTED
        return Answer.ADMITTED

    # --- sending (sections 4.1, 5.2, 6.1, 3.6) -------------------------------------------------

    def _require_connected(self) -> str:
        if self._state is not _State.CONNECTED or self.master_group is None:
            raise NotConnectedError(f"not connected (state {self._state.value})")
        return self.master_group

    def check_target(self, group: str | None = None) -> str:
        """The group a message goes to (the primary group if ``group`` is None), checked."""
        master = self._require_connected()
        target = self.primary_group if group is None else group
        if target == MASTER_GROUP:
            raise InvalidGroupError(f"You cannot send to {MASTER_GROUP}!")
        if target == ADMIN_GROUP and self.primary_group != ADMIN_GROUP:
            raise InvalidGroupError(f"only a client with primary group {ADMIN_GROUP} may send to it")
        if target not in self.groups and target not in (STATUS_GROUP, ADMIN_GROUP, master):
            raise InvalidGroupError(f"You cannot send to {target}! The master does not offer it.")
        return target

    def check_subscription(self, group: str) -> None:
        """Raise :class:`InvalidGroupError` unless ``group`` may be subscribed."""
        self._require_connected()
        if group == MASTER_GROUP:
            raise InvalidGroupError(f"{MASTER_GROUP} cannot be subscribed")
        if group not in self.groups and group not in (STATUS_GROUP, ADMIN_GROUP):
            raise InvalidGroupError(f"Group {group} does not exist")

    def data_message(
        self, data: bytes, content_type: int | None = None, group: str | None = None
    ) -> Multicast:
        """A data message carrying the ready ``data`` field to ``group`` through the master."""
        target = self.check_target(group)
        return self._data_message(data, self.content_type if content_type is None else content_type, target)

    def message(self, message: CoreMessage, group: str | None = None) -> Multicast | None:
        """A data message carrying ``message`` in the session's encoding and schema version.

        None for an empty message (a notifier or data message without attachments), which
        is not sent.
        """
        if not getattr(message, "attachments", True):
            return None
        target = self.check_target(group)
        data = encode_payload(message, self.content_type, Version(*self.schema_version))
        return self._data_message(data, self.content_type, target)

    def _data_message(self, data: bytes, content_type: int, target: str) -> Multicast:
        # 28 bytes of int32 fields and string lengths, then the three strings (section 2.3).
        size = 28 + len(target.encode("latin-1")) + len(data) + len(self.private_group.encode("latin-1"))
        if size > MAX_BODY_SIZE:
            raise MessageSizeError(f"message of {size} bytes exceeds the limit of {MAX_BODY_SIZE}")
        message = NetworkMessage(
            type=data_type(MessageType.DATA_MSG, content_type),
            destination=target,
            data=data,
            private_sender_group=self.private_group,
        )
        return Multicast(self._require_connected(), message.mess_type, message.encode())

    def command(self, code: int, argument: str = "") -> Multicast:
        """An admin command (LIST_CONNECTED_CLIENTS_CMD_MSG, ...) with ``argument`` as data."""
        return self._request(code, data=argument.encode("latin-1"))

    def archive_request(self, seq_num: int, timestamp: int) -> Multicast:
        """An ARCHIVE_REQUEST_MSG: the master replays, as ARCHIVE_MSG, what it relayed from the
        message it stamped ``(seq_num, timestamp)`` on, that one included (section 4.7)."""
        return self._request(
            MessageType.ARCHIVE_REQUEST_MSG, archive_seq_num=seq_num, archive_timestamp=timestamp
        )

    def _request(self, code: int, **fields: Any) -> Multicast:
        """A service message to the master, sent as the client library sends one: addressed
        to the primary group, with the client's type and priority."""
        master = self._require_connected()
        request = ServiceMessage(
            type=code,
            destination=self.primary_group,
            private_sender_group=self.private_group,
            client_type=self.client_type,
            client_priority=self.client_priority,
            **fields,
        )
        return Multicast(master, request.mess_type, request.encode())

    def status_report(self, info: str, destination: str = STATUS_GROUP) -> Multicast:
        """A STATE_OF_HEALTH_RESPONSE_MSG with connection-info ``info``, relayed by the master.

        To STATUS_GROUP periodically, or to the private group of an admin who asked.
        """
        master = self._require_connected()
        report = ServiceMessage(
            type=MessageType.STATE_OF_HEALTH_RESPONSE_MSG,
            destination=destination,
            data=info.encode("latin-1"),
            private_sender_group=self.private_group,
            client_type=ClientType.TYPE_DEFAULT,
            client_priority=ClientPriority.PRIORITY_HIGH,
        )
        return Multicast(master, report.mess_type, report.encode())

    def disconnect_message(self) -> Multicast | None:
        """The CLIENT_DISCONNECTED_MSG of a graceful disconnect; closes the session.

        None when the session was not admitted (there is nobody to tell).
        """
        master = self.master_group if self._state is _State.CONNECTED else None
        self._state = _State.CLOSED
        if master is None:
            return None
        goodbye = ServiceMessage(
            type=MessageType.CLIENT_DISCONNECTED_MSG,
            private_sender_group=self.private_group,
            client_type=self.client_type,
            client_priority=self.client_priority,
        )
        return Multicast(master, goodbye.mess_type, goodbye.encode())

    def close(self) -> None:
        """Forget the session without a goodbye (the Spread session is gone)."""
        self._state = _State.CLOSED

    # --- receiving (section 4.8) ---------------------------------------------------------------

    def receive(self, sender: str, msg_type: int, body: bytes) -> Event | None:
        """Classify one regular Spread message received while connected; None: dropped."""
        if self._state is not _State.CONNECTED or msg_type == 0:
            return None
        try:
            message = decode_message(body, msg_type)
        except ProtocolError as exc:
            return Dropped(sender, f"could not read regular message: {exc}")
        if isinstance(message, NetworkMessage):
            return self._receive_data(message)
        return self._receive_service(message)

    def _receive_data(self, message: NetworkMessage) -> Event | None:
        if message.private_sender_group == self.private_group:
            return None
        if message.type == MessageType.ARCHIVE_MSG:
            return Delivery(message) if message.destination in self.archive_groups else None
        if message.destination == self.private_group and not message.private_sender_group:
            # Made by the master itself for this client: a service offer or a sync answer.
            try:
                payload = decode_payload(message.data, message.content_type)
            except ArchiveError:
                return Delivery(message)
            rtti = type(payload).SPEC.rtti_name
            if rtti == "database_response_message":
                return DatabaseOffered(payload.name, payload.parameters)
            if rtti == "sync_response_message":
                return SyncAnswered(payload.id)
        return Delivery(message)

    def _receive_service(self, message: ServiceMessage) -> Event | None:
        kind = message.type
        if kind == MessageType.MASTER_DISCONNECTED_MSG:
            self._state = _State.CLOSED
            return MasterGone(message)
        if kind in _QUEUED_SERVICE_TYPES:
            return Delivery(message)
        if kind == MessageType.CLIENT_DISCONNECT_CMD_MSG:
            return DisconnectOrdered(message)
        if kind == MessageType.STATE_OF_HEALTH_CMD_MSG:
            return StatusRequested(message)
        return None

    def membership(
        self, reason: int, group: str, members: Sequence[str], changed_member: str | None
    ) -> Event | None:
        """Turn a regular Spread membership notice into the service message SeisComP3 makes of it.

        ``reason`` holds the CAUSED_BY bits; notices of other kinds (network, transitional,
        self-leave) carry no ``changed_member`` and are dropped, as the C++ library does.
        """
        if self._state is not _State.CONNECTED or not changed_member:
            return None
        if reason & CAUSED_BY_JOIN:
            text = MembershipChange(group, changed_member, tuple(members)).format_join()
            kind = MessageType.JOIN_GROUP_MSG
        elif reason & CAUSED_BY_LEAVE:
            text = MembershipChange(group, changed_member).format_leave()
            kind = MessageType.LEAVE_GROUP_MSG
        elif reason & CAUSED_BY_DISCONNECT:
            text = changed_member
            kind = MessageType.CLIENT_DISCONNECTED_MSG
            if is_master_member(changed_member):
                kind = MessageType.MASTER_DISCONNECTED_MSG
        else:
            return None
        notice = ServiceMessage(type=kind, data=text.encode("latin-1"), private_sender_group=changed_member)
        if kind == MessageType.MASTER_DISCONNECTED_MSG:
            self._state = _State.CLOSED
            return MasterGone(notice)
        return Delivery(notice)


# ---------------------------------------------------------------------------------------------
# Process facts for connection-info strings (section 2.8 (a))


def iso_time(seconds: float) -> str:
    """SeisComP3's ISO notation: microseconds in six digits, or exactly ``0000`` when zero."""
    stamp = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    fraction = f"{stamp.microsecond:06d}" if stamp.microsecond else "0000"
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def default_program_name() -> str:
    """The module name SeisComP3 would use: ``argv[0]`` without path and extension."""
    return os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0] or "python"


class _Statistics:
    """Counters and process facts a connection reports about itself."""

    def __init__(self, program_name: str) -> None:
        self.program_name = program_name
        self.host = socket.gethostname()
        self.ips = host_addresses(self.host)
        self.sent = 0
        self.received = 0
        self.summed_queue_size = 0
        self.summed_message_size = 0
        # The last report tick; before the first one SeisComP3 reports the epoch and no CPU use.
        self.tick_time = 0.0
        self.cpu_percent = 0
        self._cpu = CpuMeter()

    def tick(self, now: float) -> None:
        """A report falls due: note its time and the CPU used since the previous one."""
        self.cpu_percent = self._cpu.percent()
        self.tick_time = now

    def info(self, private_group: str, queue_size: int) -> str:
        return format_connection_info(
            (
                ("time", iso_time(self.tick_time)),
                ("privategroup", private_group),
                ("hostname", self.host),
                ("ips", self.ips),
                ("programname", self.program_name),
                ("pid", os.getpid()),
                ("cpuusage", self.cpu_percent),
                ("totalmemory", total_memory_kb()),
                ("clientmemoryusage", resident_memory_kb()),
                ("sentmessages", self.sent),
                ("receivedmessages", self.received),
                ("messagequeuesize", queue_size),
                ("summedmessagequeuesize", self.summed_queue_size),
                ("summedmessagesize", self.summed_message_size),
                ("objectcount", 0),
            )
        )


# ---------------------------------------------------------------------------------------------
# The blocking connection


@dataclass(frozen=True)
class _BusClosed:
    """Put in the receive queue by the reader thread when the Spread session ends."""

    reason: str


def _is_regular(item: Any) -> bool:
    """A data message of the ``spread`` API (membership notices have no ``msg_type``).

    Told apart by attribute, because not every implementation of the API exports the
    ``RegularMsgType`` name.
    """
    return hasattr(item, "msg_type")


def _read_mailbox(mailbox: Any, error: type[Exception], sink: queue.Queue) -> None:
    """Reader thread: move every received Spread message into ``sink`` until the session ends."""
    try:
        while True:
            sink.put(mailbox.receive())
    except error as exc:
        sink.put(_BusClosed(str(exc)))
    except OSError as exc:
        sink.put(_BusClosed(f"socket error: {exc}"))


class Connection:
    """A SeisComP3 client connection to the master through a Spread daemon.

    ``server`` is the messaging address (``host[:port]``, ``spread://host:port`` or Spread's
    own ``port@host``), ``name`` the client name (empty: Spread invents one),
    ``primary_group`` the group announced to the master and used by :meth:`send` by default.
    ``subscriptions`` are joined after every successful handshake (``*`` means every group
    the master offers). ``encoding`` is ``binary`` or ``xml``. ``timeout`` bounds the wait for
    the master's answer. ``status_interval`` is the period of state-of-health reports to
    STATUS_GROUP (None: none); they are sent from within the calls of this object.
    ``bus`` is the module implementing the ``spread`` API.

    Use :meth:`connect` (or ``with``), then :meth:`receive`, :meth:`send`, :meth:`sync`,
    :meth:`subscribe`; :meth:`disconnect` says goodbye to the master.
    """

    def __init__(
        self,
        server: str = "localhost",
        name: str = "",
        primary_group: str = LISTENER_GROUP,
        *,
        subscriptions: Iterable[str] = (),
        encoding: str | int = "binary",
        timeout: float = 3.0,
        client_type: int = ClientType.TYPE_DEFAULT,
        client_priority: int = ClientPriority.PRIORITY_DEFAULT,
        password: str = "",
        protocol_version: str = PROTOCOL_VERSION_V1_1,
        program_name: str | None = None,
        status_interval: float | None = SOH_INTERVAL,
        bus: ModuleType | None = None,
    ) -> None:
        if len(name) > MAX_CLIENT_NAME_LENGTH:
            raise InvalidClientNameError(
                f"client name {name!r} is longer than {MAX_CLIENT_NAME_LENGTH} characters"
            )
        if primary_group == MASTER_GROUP:
            raise InvalidGroupError(f"{MASTER_GROUP} cannot be the primary group")
        if bus is None:
            import spreadbus as bus
        self.server = server
        self.name = name
        self.primary_group = primary_group
        self.encoding = content_type_of_encoding(encoding)
        self.timeout = timeout
        self.client_type = client_type
        self.client_priority = client_priority
        self.password = password
        self.requested_protocol_version = protocol_version
        self.status_interval = status_interval
        self.database: DatabaseOffered | None = None
        self._bus = bus
        self._subscriptions: list[str] = list(subscriptions)
        self._archive_groups: set[str] = set()
        self._stats = _Statistics(program_name or default_program_name())
        self._session: ClientSession | None = None
        self._mailbox: Any = None
        self._incoming: queue.Queue = queue.Queue(RECEIVE_QUEUE_LIMIT)
        self._inbox: deque[Message] = deque()
        self._lost: NotConnectedError | None = None
        self._sync_answers: set[str] = set()
        self._next_report = 0.0

    # --- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._session is not None and self._session.connected

    @property
    def session(self) -> ClientSession:
        """The protocol state of the current connection; NotConnectedError before the first."""
        if self._session is None:
            raise NotConnectedError("never connected")
        return self._session

    @property
    def private_group(self) -> str:
        return self.session.private_group

    @property
    def master_group(self) -> str | None:
        return self.session.master_group

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups the master offered, STATUS_GROUP and IMPORT_GROUP in front."""
        return self.session.groups

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return tuple(self._subscriptions)

    @property
    def program_name(self) -> str:
        return self._stats.program_name

    # --- connect, disconnect ------------------------------------------------------------------

    def connect(self) -> None:
        """Open the Spread session, join MASTER_GROUP, run the handshake, join the subscriptions.

        Raises :class:`BusConnectError` (with :class:`ClientNameNotUniqueError`),
        :class:`HandshakeTimeoutError`, :class:`WrongServerVersionError` or a
        :class:`ConnectRejectedError`; on failure the Spread session is closed again.
        """
        if self.connected:
            raise ClientError("already connected")
        try:
            address = spread_daemon_address(self.server)
        except ProtocolError as exc:
            raise BusConnectError(f"invalid messaging address {self.server!r}: {exc.reason}") from None
        log.info("Connecting to server: %s", self.server)
        try:
            mailbox = self._bus.connect(address, self.name, 0, 1)
        except self._bus.error as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            text = exc.args[1] if len(exc.args) > 1 else str(exc)
            kind = ClientNameNotUniqueError if code == REJECT_NOT_UNIQUE else BusConnectError
            raise kind(f"could not connect to {self.server} as {self.name!r}: {text}", code) from None
        log.info("Connected to message server: %s", self.server)
        self._mailbox = mailbox
        self._incoming = queue.Queue(RECEIVE_QUEUE_LIMIT)
        self._inbox.clear()
        self._lost = None
        threading.Thread(
            target=_read_mailbox,
            args=(mailbox, self._bus.error, self._incoming),
            name=f"scmaster3-client-{mailbox.private_group}",
            daemon=True,
        ).start()
        try:
            log.info("Joining %s group", MASTER_GROUP)
            mailbox.join(MASTER_GROUP)
            session = ClientSession(
                mailbox.private_group,
                self.primary_group,
                client_type=self.client_type,
                client_priority=self.client_priority,
                password=self.password,
                encoding=self.encoding,
                protocol_version=self.requested_protocol_version,
            )
            session.archive_groups = self._archive_groups
            self._session = session
            self._handshake(session)
            joined = self._expand(self._subscriptions)
            for group in joined:
                self._join(group)
            self._subscriptions = joined
        except BaseException:
            self.disconnect()
            raise
        self._next_report = time.monotonic() + (self.status_interval or 0.0)

    def _handshake(self, session: ClientSession) -> None:
        while True:
            log.info("Sending connect message to server: %s", self.server)
            self._multicast(session.connect_request(self._info(session)))
            deadline = time.monotonic() + self.timeout
            answer = Answer.IGNORED
            while answer is Answer.IGNORED:
                item = self._next_incoming(deadline)
                if item is None:
                    raise HandshakeTimeoutError(
                        f"no answer from the master on {self.server} within {self.timeout} s"
                    )
                if isinstance(item, _BusClosed):
                    raise ConnectionLostError(f"Spread session closed during the handshake: {item.reason}")
                if _is_regular(item):
                    answer = session.handshake_answer(item.sender, item.msg_type, item.message)
            if answer is Answer.ADMITTED:
                break
            log.info("The master wants protocol %s; connecting again", session.protocol_version)
        if session.server_version is not None:
            log.info("Server version is '%s'", session.server_version)
        major, minor = session.schema_version
        log.info("Outgoing messages are encoded to match schema version %d.%d", major, minor)

    def disconnect(self) -> None:
        """Graceful disconnect: CLIENT_DISCONNECTED_MSG to the master, then close the session."""
        if self._mailbox is None:
            return
        if self._session is not None:
            goodbye = self._session.disconnect_message()
            if goodbye is not None:
                try:
                    self._multicast(goodbye)
                except NotConnectedError:
                    pass  # the session is already gone; there is nobody left to tell
        self._abandon()

    def reconnect(self) -> None:
        """After the master or the bus went away: a fresh Spread session and handshake under
        the same name, re-joining the subscriptions."""
        self._abandon()
        self.connect()

    def _abandon(self) -> None:
        """Close the Spread session without telling the master."""
        if self._session is not None:
            self._session.close()
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            try:
                mailbox.disconnect()
            except self._bus.error:
                pass
            # What the session still held is void; emptying the queue also frees a reader
            # thread blocked on a full queue, so that it can end.
            while True:
                try:
                    self._incoming.get_nowait()
                except queue.Empty:
                    break

    def __enter__(self) -> Connection:
        if not self.connected:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    # --- groups --------------------------------------------------------------------------------

    def _expand(self, groups: Iterable[str]) -> list[str]:
        result: list[str] = []
        for group in groups:
            for name in self.session.groups if group in ("*", "...") else (group,):
                if name not in result:
                    result.append(name)
        return result

    def _join(self, group: str) -> None:
        self.session.check_subscription(group)
        log.info("Joining group: %s", group)
        self._mailbox.join(group)

    def subscribe(self, group: str) -> None:
        """Receive the messages of ``group`` (``*`` for every offered group) from now on."""
        for name in self._expand([group]):
            if name in self._subscriptions and self.connected:
                continue
            self._join(name)
            if name not in self._subscriptions:
                self._subscriptions.append(name)

    def unsubscribe(self, group: str) -> None:
        """Stop receiving ``group``."""
        self.session.check_subscription(group)
        self._mailbox.leave(group)
        if group in self._subscriptions:
            self._subscriptions.remove(group)

    def subscribe_archive(self, group: str) -> None:
        """Accept ARCHIVE_MSG replays addressed to ``group`` (on this and later connections)."""
        self._archive_groups.add(group)

    def request_archive(self, seq_num: int, timestamp: int) -> None:
        """Ask the master to replay what it relayed since the message stamped ``(seq_num,
        timestamp)``, that one included: it arrives through :meth:`receive` as data messages
        of type ARCHIVE_MSG, for the groups given to :meth:`subscribe_archive`. An anchor the
        master no longer holds gets no replay (the refusal is dropped, as SeisComP3 does)."""
        self._drain()
        self._check_open()
        self._multicast(self.session.archive_request(seq_num, timestamp))

    # --- sending -------------------------------------------------------------------------------

    def _multicast(self, out: Multicast) -> None:
        if self._mailbox is None:
            raise NotConnectedError("no Spread session")
        try:
            self._mailbox.multicast(out.service, out.group, out.body, out.msg_type)
        except self._bus.error as exc:
            self._lose(ConnectionLostError(f"send failed: {exc}"))
        self._stats.sent += 1

    def _drain(self) -> None:
        """Handle what was already received, so a departed master is noticed before a send.

        Stops while RECEIVE_QUEUE_LIMIT messages wait for the application: a client that sends
        and does not read then holds up its Spread session rather than growing without bound.
        """
        while len(self._inbox) < RECEIVE_QUEUE_LIMIT:
            try:
                item = self._incoming.get_nowait()
            except queue.Empty:
                return
            self._handle(item)

    def send(self, message: CoreMessage, group: str | None = None) -> bool:
        """Send a data model message to ``group`` (default: the primary group) via the master.

        False if the message is empty and therefore not sent.
        """
        self._drain()
        self._check_open()
        out = self.session.message(message, group)
        if out is None:
            return False
        self._multicast(out)
        return True

    def send_data(self, data: bytes, content_type: int | None = None, group: str | None = None) -> None:
        """Send a ready ``data`` field (already encoded and compressed for ``content_type``)."""
        self._drain()
        self._check_open()
        self._multicast(self.session.data_message(data, content_type, group))

    def send_command(self, code: int, argument: str = "") -> None:
        """Send an admin command (``MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG``, ...)."""
        self._drain()
        self._check_open()
        self._multicast(self.session.command(code, argument))

    def send_status_report(self, destination: str = STATUS_GROUP) -> None:
        """Send a state-of-health report now."""
        self._check_open()
        self._stats.tick(time.time())
        self._multicast(self.session.status_report(self._info(self.session), destination))

    def _report_if_due(self) -> None:
        if self.status_interval is None or not self.connected or time.monotonic() < self._next_report:
            return
        self._next_report = time.monotonic() + self.status_interval
        self.send_status_report()

    def _info(self, session: ClientSession) -> str:
        return self._stats.info(session.private_group, len(self._inbox))

    # --- receiving -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._lost is not None:
            raise self._lost
        if not self.connected:
            raise NotConnectedError("not connected")

    def _lose(self, error: NotConnectedError) -> None:
        self._lost = error
        self._abandon()
        raise error

    def _next_incoming(self, deadline: float | None) -> Any:
        """The next item of the receive queue, or None once ``deadline`` has passed."""
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            return self._incoming.get(timeout=remaining)
        except queue.Empty:
            return None

    def _pump(self, deadline: float | None) -> bool:
        """Handle one received item; False if none came before ``deadline``.

        Sends the periodic state-of-health report when it falls due while waiting.
        """
        self._check_open()
        self._report_if_due()
        wait_until = deadline
        if self.status_interval is not None:
            wait_until = self._next_report if deadline is None else min(deadline, self._next_report)
        item = self._next_incoming(wait_until)
        if item is None:
            self._report_if_due()
            return False
        self._handle(item)
        return True

    def _handle(self, item: Any) -> None:
        session = self._session
        if isinstance(item, _BusClosed):
            if self._mailbox is not None:
                self._lose(ConnectionLostError(f"Spread session closed: {item.reason}"))
            return
        if session is None or self._mailbox is None:
            return
        self._stats.received += 1
        if _is_regular(item):
            event = session.receive(item.sender, item.msg_type, item.message)
        else:
            event = session.membership(
                item.reason, item.group, item.members, getattr(item, "changed_member", None)
            )
        if event is None:
            return
        if isinstance(event, Delivery):
            self._inbox.append(event.message)
            self._stats.summed_queue_size += len(self._inbox)
            self._stats.summed_message_size += len(event.message.data)
        elif isinstance(event, DatabaseOffered):
            log.info("The master offers the database %s", event.url)
            self.database = event
        elif isinstance(event, SyncAnswered):
            self._sync_answers.add(event.sync_id)
        elif isinstance(event, StatusRequested):
            self.send_status_report(event.requester)
        elif isinstance(event, Dropped):
            log.warning("dropped a message from %s: %s", event.sender, event.reason)
        elif isinstance(event, MasterGone):
            self._lose(MasterDisconnectedError(f"the master {session.master_group} disconnected"))
        elif isinstance(event, DisconnectOrdered):
            log.info("Disconnected by the administrator %s", event.message.private_sender_group)
            self.disconnect()
            self._lost = ForcedDisconnectError("disconnected by the administrator")
            raise self._lost

    def receive(self, timeout: float | None = None) -> Message | None:
        """The next message for the application, or None after ``timeout`` seconds.

        Data messages are :class:`~scmaster3.protocol.NetworkMessage` (decode the payload with
        :func:`scmaster3.io.payload.decode_payload`); membership changes, client lists,
        state-of-health reports and command rejections are
        :class:`~scmaster3.protocol.ServiceMessage`. Messages received before the connection
        ended are still returned; after them the reason is raised
        (:class:`MasterDisconnectedError`, :class:`ForcedDisconnectError`,
        :class:`ConnectionLostError`, :class:`NotConnectedError`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._inbox:
            if not self._pump(deadline) and deadline is not None and time.monotonic() >= deadline:
                return None
        return self._inbox.popleft()

    def sync(self, sync_id: str | None = None, timeout: float | None = 10.0) -> str:
        """Send a sync_request_message to STATUS_GROUP and wait for the master's answer.

        When it arrives, the master has processed (and stored) everything this client sent
        before. Returns the id; :class:`SyncTimeoutError` if no answer came within ``timeout``.
        Messages received meanwhile stay queued for :meth:`receive`.
        """
        if sync_id is None:
            sync_id = f"sync_{self.program_name}_{iso_time(time.time())}"
        self.send(SyncRequestMessage(id=sync_id), STATUS_GROUP)
        deadline = None if timeout is None else time.monotonic() + timeout
        while sync_id not in self._sync_answers:
            if not self._pump(deadline) and deadline is not None and time.monotonic() >= deadline:
                raise SyncTimeoutError(f"no answer to sync request {sync_id!r} within {timeout} s")
        self._sync_answers.discard(sync_id)
        return sync_id

    def wait_database(self, timeout: float = 5.0) -> DatabaseOffered | None:
        """The master's database offer, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while self.database is None:
            if not self._pump(deadline) and time.monotonic() >= deadline:
                break
        return self.database
