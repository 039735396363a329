"""One client connection of the daemon, as a state machine over bytes (no I/O).

States, in order::

    CONNECTING ──connect message──▶ NAMING ──admit()──▶ AUTHENTICATING ──auth choice──▶ OPEN
         │                            │  (refuse())          │ (bad method)              │
         └──────── silent close ──────┴──── reject byte ─────┴──── reject byte ──────────┴─▶ CLOSED

``receive_data(bytes)`` returns a list of events (``ConnectRequested``, ``Established``,
``Join``, ``Leave``, ``Multicast``, ``Kill``, ``Refused``, ``Dropped``) and the bytes to send
ride on the events (``reply``). The daemon decides about names (uniqueness, the invented
name for an empty one) between ``ConnectRequested`` and ``admit()`` / ``refuse()``: it owns
the session table. Every protocol violation after the handshake yields ``Dropped`` and the
session is CLOSED; the daemon then closes the socket without a word, as Spread does.

Like Spread, the handshake decides on one read per stage: the connect message on the first
bytes that arrive (``wire.decode_connect``), the auth choice on the first bytes after the
auth list (90 of them, else ``REJECT_AUTH``, also when the client closes instead). A closing
event (``Refused``, ``Dropped``, ``Kill``) tells in ``unread`` how many of the bytes received
Spread would have left unread in its socket at that point (it reads a message header before
it judges it, the message body after): closing a socket with unread input resets the
connection, and the daemon reproduces that.

Validation of a client header (spec section 6), done as soon as its 48 bytes are in:
exactly one service or JOIN/LEAVE/KILL bit; the sender is this session's private group;
0 <= num_groups <= 100; only endian and msg_type bits in the hint; data within 14 400 000
bytes. One check more than Spread: no REJECT_MESS bit. Spread relays such a message (a
receiver sees e.g. type 0x80400084), and every receiving libspread then takes it for a
reject message and reads 4 bytes of an ``old_type`` field that is not there, which
misaligns the rest of its stream; dropping the sender protects the receivers. Other stray
type bits (DROP_RECV, RESERVED, membership bits beside a service bit) are relayed
unchanged, as Spread relays them.

JOIN and LEAVE act on the first group name as sent, as in Spread: any bytes up to the first
NUL, all 32 if there is none (the notices then carry the 32 bytes unterminated), empty
names and names starting with ``#`` included (a multicast to a ``#`` name still goes to
the private group of that name, never to such a group). Without any group name they are
ignored: Spread would act on whatever stale name its message buffer holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from spreadbus import wire

_COMMAND_OR_SERVICE = wire.REGULAR_MESS | wire.COMMAND_MESS


class State(enum.Enum):
    CONNECTING = "connecting"
    NAMING = "naming"
    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """A complete, well-formed connect message; the daemon must ``admit()`` or ``refuse()``."""

    message: wire.ConnectMessage


@dataclass(frozen=True, slots=True)
class Established:
    """The session is open; ``reply`` is the accept to send."""

    private_group: bytes
    reply: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """The handshake failed: send ``reply`` (one reject byte, or nothing) and close."""

    code: int | None
    reason: str
    reply: bytes
    unread: int = 0


@dataclass(frozen=True, slots=True)
class Dropped:
    """A protocol violation or the peer's end of stream: close the socket without a word."""

    reason: str
    violation: bool = True
    unread: int = 0


@dataclass(frozen=True, slots=True)
class Join:
    group: bytes


@dataclass(frozen=True, slots=True)
class Leave:
    group: bytes


@dataclass(frozen=True, slots=True)
class Kill:
    """The client disconnects (KILL_MESS)."""

    unread: int = 0


@dataclass(slots=True)  # not frozen: built for every message, and frozen init costs
class Multicast:
    """A data message: ``groups`` (names cut at NUL) and ``relay``, the frame every receiver
    gets (the sender's frame in the daemon's little-endian order, hint untouched)."""

    groups: list[bytes]
    self_discard: bool
    relay: bytes


Event = ConnectRequested | Established | Refused | Dropped | Join | Leave | Kill | Multicast


class Session:
    """Handshake and message validation of one client connection."""

    def __init__(self, daemon_name: bytes, auth_methods: tuple[str, ...] = ("NULL",)) -> None:
        self.daemon_name = daemon_name
        self.auth_methods = auth_methods
        self.state = State.CONNECTING
        self.connect: wire.ConnectMessage | None = None
        self.private_group: bytes = b""
        self._handshake = bytearray()
        self._parser: wire.MessageParser | None = None
        self._sender_field = b""

    # --- handshake ----------------------------------------------------------------------------

    def admit(self, name: bytes) -> bytes:
        """Accept the connect message under private name ``name``; returns the bytes to send.

        For clients >= 3.16 that is the auth list (the accept follows the auth choice);
        older clients skip authentication and get the accept at once (``state`` is then
        OPEN). Bytes the client sent early are kept: call ``receive_data(b"")`` next (with
        early bytes, that reads the auth choice from them).
        """
        if self.state is not State.NAMING or self.connect is None:
            raise RuntimeError(f"admit() in state {self.state.value}")
        self.private_group = wire.private_group(name, self.daemon_name)
        if self.connect.wants_auth:
            self.state = State.AUTHENTICATING
            return wire.encode_auth_list(self.auth_methods)
        return self._open().reply

    def refuse(self, code: int, reason: str = "") -> Refused:
        """Refuse the connection with ``code`` (after the connect message, or while waiting
        for the auth choice); the event carries the reject byte to send."""
        if self.state not in (State.NAMING, State.AUTHENTICATING):
            raise RuntimeError(f"refuse() in state {self.state.value}")
        return self._refused(code, reason or wire.ERROR_TEXTS.get(code, f"code {code}"))

    def _open(self) -> Established:
        assert self.connect is not None
        self.state = State.OPEN
        self._parser = wire.MessageParser(check_header=self._check_header)
        self._sender_field = wire.encode_name(self.private_group)
        accept = wire.encode_accept(self.private_group, self.connect.wants_patch_byte)
        # A client may not send before the accept, but bytes that are already here count.
        leftover = bytes(self._handshake)
        self._handshake.clear()
        if leftover:
            self._parser.feed(leftover)
        return Established(self.private_group, accept)

    # --- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        state = self.state
        if state is State.OPEN:
            assert self._parser is not None
            self._parser.feed(data)
            return self._read_messages()
        if state is State.CLOSED:
            return []
        self._handshake += data
        if not self._handshake:
            return []  # nothing to read yet
        if state is State.CONNECTING:
            return self._read_connect()
        if state is State.AUTHENTICATING:
            return self._read_auth()
        return []  # NAMING: keep the bytes until the daemon decides

    def receive_eof(self) -> list[Event]:
        state = self.state
        if state is State.CLOSED:
            return []
        self.state = State.CLOSED
        if state is State.AUTHENTICATING:
            # Spread's read of the auth choice finds the end of stream: a short choice.
            return [self._refused(wire.REJECT_AUTH, "connection closed instead of an auth choice")]
        return [Dropped("connection closed by the client", violation=False)]

    def _refused(self, code: int | None, reason: str, consumed: int = 0) -> Refused:
        """CLOSED, with the reject byte of ``code`` (none for ``None``) to send; the handshake
        bytes after the first ``consumed`` are the ones left unread."""
        self.state = State.CLOSED
        reply = wire.encode_reject_byte(code) if code is not None else b""
        return Refused(code, reason, reply, max(0, len(self._handshake) - consumed))

    def _read_connect(self) -> list[Event]:
        try:
            result = wire.decode_connect(self._handshake)
        except wire.HandshakeError as exc:
            return [self._refused(exc.code, exc.reason, exc.consumed)]
        if result is None:
            size = len(self._handshake)
            return [self._refused(None, f"incomplete connect message ({size} bytes)", size)]
        self.connect, used = result
        del self._handshake[:used]
        self.state = State.NAMING
        return [ConnectRequested(self.connect)]

    def _read_auth(self) -> list[Event]:
        result = wire.decode_auth_choice(self._handshake)
        if result is None:
            size = len(self._handshake)
            return [self._refused(wire.REJECT_AUTH, f"short auth choice ({size} bytes)", size)]
        methods, used = result
        unknown = [m for m in methods if m not in self.auth_methods]
        if unknown or not methods:
            reason = (
                f"authentication method {unknown[0]!r} not allowed" if unknown else "no authentication method"
            )
            return [self._refused(wire.REJECT_AUTH, reason, used)]
        del self._handshake[:used]
        established = self._open()
        events: list[Event] = [established]
        if self._parser is not None and self._parser.buffered:
            events.extend(self._read_messages())
        return events

    # --- messages -----------------------------------------------------------------------------

    def _check_header(self, header: wire.Header) -> None:
        bits = header.type
        service = bits & _COMMAND_OR_SERVICE
        if not service or service & (service - 1):
            raise wire.InvalidHeader(f"type 0x{bits:08x} needs exactly one service or command bit")
        if bits & wire.REJECT_MESS:
            raise wire.InvalidHeader(f"type 0x{bits:08x} carries REJECT_MESS")
        if header.sender == self._sender_field:  # as libspread writes it: no decoding needed
            pass
        elif (sender := wire.decode_name(header.sender[: wire.MAX_GROUP_NAME - 1])) != self.private_group:
            raise wire.InvalidHeader(f"sender {sender!r} is not this session")
        if not wire.hint_is_valid(header.hint):
            raise wire.InvalidHeader(f"hint {header.hint.hex()} has reserved bits")

    def _read_messages(self) -> list[Event]:
        assert self._parser is not None
        events: list[Event] = []
        parser = self._parser
        try:
            while (frame := parser.next_frame()) is not None:
                event = self._message_event(frame)
                if event is None:
                    continue
                if type(event) is Kill:
                    self.state = State.CLOSED
                    events.append(Kill(parser.buffered))
                    break
                events.append(event)
        except wire.SpreadWireError as exc:
            # Spread reads a header, judges it and closes: the rest stays unread.
            self.state = State.CLOSED
            events.append(Dropped(f"invalid message: {exc}", unread=parser.buffered - wire.HEADER_LEN))
        return events

    def _message_event(self, frame: wire.Frame) -> Event | None:
        header = frame.header
        bits = header.type
        if bits & wire.REGULAR_MESS:
            raw = frame.raw
            if header.byteorder != wire.LITTLE:
                raw = (
                    wire.pack_header(bits, header.sender, header.num_groups, header.hint, header.data_len)
                    + raw[wire.HEADER_LEN :]
                )
            return Multicast(frame.groups, bool(bits & wire.SELF_DISCARD), raw)
        if bits & wire.KILL_MESS:
            return Kill()
        if header.num_groups < 1:
            return None
        group = wire.decode_name(frame.raw[wire.HEADER_LEN : wire.HEADER_LEN + wire.MAX_GROUP_NAME])
        return Join(group) if bits & wire.JOIN_MESS else Leave(group)
