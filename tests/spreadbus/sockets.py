"""Socket helpers shared by the daemon tests: ``RawClient``, a blocking client over a raw
socket that speaks through ``spreadbus.wire`` only, and ``read_to_end``."""

from __future__ import annotations

import socket

from spreadbus import wire


def read_to_end(sock: socket.socket) -> tuple[bytes, str]:
    """Read until the peer ends the connection: ``(bytes read, "closed" or "reset")``.

    "reset": the peer's kernel answered with RST, as it does when a socket is closed with
    bytes still unread in it (or with ``SO_LINGER`` 0); "closed": an orderly end (FIN).
    """
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        return data, "reset"
    return data, "closed"


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
        return read_to_end(self.sock)[0]

    def close(self) -> None:
        self.sock.close()


def _recv_some(sock: socket.socket) -> bytes:
    chunk = sock.recv(1 << 16)
    if not chunk:
        raise AssertionError("the daemon closed the connection")
    return chunk
