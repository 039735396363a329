"""The ``spread``-module surface driven by a real libspread shared library through ctypes.

It offers the calls and objects of the pure-Python client (``spreadbus.client``):
``connect()``, ``version()``, mailboxes with ``receive``/``multicast``/``join``/..., the
same ``RegularMsg``, ``MembershipMsg``, ``GroupId`` and ``error`` classes. Code written for
one runs on the other, which is what it is for: the real C library against this project's
daemon, and this project's client beside the real library, in one process.

The library is the one named by the environment variable ``SPREADBUS_LIBSPREAD`` (a path to
the shared object), else the first of ``LIBRARY_NAMES`` the system's library search finds;
the thread-safe core comes first, because one thread may block in ``receive()`` while
others send. ctypes releases the GIL around every foreign call, so a blocking
``receive()`` does not stop other Python threads.

Beyond SpreadModule, as in the pure-Python client: ``receive(timeout)``, mailboxes are
context managers, and a mailbox whose connection broke gives its socket back to the
library at once instead of keeping it until the process ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading

from spreadbus import wire
from spreadbus.client import (
    DEFAULT_BUFFER_SIZE,
    DEFAULT_DAEMON,
    DEFAULT_GROUPS_SIZE,
    GroupId,
    MembershipMsg,
    RegularMsg,
    error,
)
from spreadbus.wire import (
    ACCEPT_SESSION,
    BUFFER_TOO_SHORT,
    CAUSED_BY_DISCONNECT,
    CAUSED_BY_JOIN,
    CAUSED_BY_LEAVE,
    CAUSED_BY_NETWORK,
    CONNECTION_CLOSED,
    GROUPS_TOO_SHORT,
    ILLEGAL_MESSAGE,
    ILLEGAL_SESSION,
    MAX_GROUP_NAME,
    REG_MEMB_MESS,
    REGULAR_MESS,
    SELF_DISCARD,
    TRANSITION_MESS,
    is_membership,
    is_regular,
)

ENV_VAR = "SPREADBUS_LIBSPREAD"
LIBRARY_NAMES = ("tspread-core", "spread-core", "tspread", "spread", "libspread")

_CAUSED_BY_MASK = CAUSED_BY_JOIN | CAUSED_BY_LEAVE | CAUSED_BY_DISCONNECT | CAUSED_BY_NETWORK
_ONE_MEMBER_CAUSES = CAUSED_BY_JOIN | CAUSED_BY_LEAVE | CAUSED_BY_DISCONNECT
# What multicast() lets through, as SpreadModule: any service bits plus SELF_DISCARD.
_VALID_SERVICE = REGULAR_MESS | SELF_DISCARD
# Names travel as bytes; these turn them into str exactly as the pure-Python client does.
_NAME_ENCODING = "utf-8"
_NAME_ERRORS = "surrogateescape"
# Offsets in a regular membership body (protocol section 7.3): group id, vs-set count, the
# offset of the receiver's own vs-set (counted from the first vs-set), then the vs-sets.
_MEMB_OFFSET_FIELD = 16
_MEMB_FIRST_VS_SET = 20


class LibspreadNotFound(OSError):
    """No libspread shared library could be located or loaded."""


# --- C declarations ---------------------------------------------------------------------------

_GroupName = ctypes.c_char * MAX_GROUP_NAME


class _CGroupId(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32 * 3)]


class _VsSetInfo(ctypes.Structure):
    _fields_ = [("num_members", ctypes.c_uint), ("members_offset", ctypes.c_uint)]


class _MembershipInfo(ctypes.Structure):
    _fields_ = [
        ("gid", _CGroupId),
        ("changed_member", _GroupName),
        ("num_vs_sets", ctypes.c_uint),
        ("my_vs_set", _VsSetInfo),
    ]


_INT = ctypes.c_int
_P_INT = ctypes.POINTER(ctypes.c_int)
_PTR = ctypes.c_void_p
_PROTOTYPES: dict[str, tuple[type | None, list[type]]] = {
    "SP_version": (_INT, [_P_INT, _P_INT, _P_INT]),
    "SP_connect": (_INT, [ctypes.c_char_p, ctypes.c_char_p, _INT, _INT, _P_INT, ctypes.c_char_p]),
    "SP_disconnect": (_INT, [_INT]),
    "SP_kill": (None, [_INT]),
    "SP_join": (_INT, [_INT, ctypes.c_char_p]),
    "SP_leave": (_INT, [_INT, ctypes.c_char_p]),
    "SP_multicast": (_INT, [_INT, _INT, ctypes.c_char_p, ctypes.c_int16, _INT, ctypes.c_char_p]),
    "SP_multigroup_multicast": (_INT, [_INT, _INT, _INT, _PTR, ctypes.c_int16, _INT, ctypes.c_char_p]),
    "SP_receive": (
        _INT,
        [
            _INT,
            _P_INT,
            ctypes.c_char_p,
            _INT,
            _P_INT,
            _PTR,
            ctypes.POINTER(ctypes.c_int16),
            _P_INT,
            _INT,
            _PTR,
        ],
    ),
    "SP_poll": (_INT, [_INT]),
    "SP_get_memb_info": (_INT, [_PTR, _INT, ctypes.POINTER(_MembershipInfo)]),
    "SP_get_vs_set_members": (_INT, [_PTR, ctypes.POINTER(_VsSetInfo), _PTR, _INT]),
}


def library_path() -> str | None:
    """Where the library would be loaded from: ``$SPREADBUS_LIBSPREAD`` or a system search."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return configured
    for name in LIBRARY_NAMES:
        found = ctypes.util.find_library(name)
        if found:
            return found
    return None


_loaded: ctypes.CDLL | None = None
_load_lock = threading.Lock()


def load() -> ctypes.CDLL:
    """Load (once per process) and declare the library; ``LibspreadNotFound`` if impossible."""
    global _loaded
    with _load_lock:
        if _loaded is not None:
            return _loaded
        path = library_path()
        if path is None:
            raise LibspreadNotFound(
                f"no libspread found: set {ENV_VAR} to the shared library's path "
                f"(the system search found none of {', '.join(LIBRARY_NAMES)})"
            )
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise LibspreadNotFound(f"cannot load libspread from {path}: {exc}") from exc
        for symbol, (restype, argtypes) in _PROTOTYPES.items():
            try:
                function = getattr(lib, symbol)
            except AttributeError as exc:
                raise LibspreadNotFound(f"{path} is not libspread: it lacks {symbol}") from exc
            function.restype = restype
            function.argtypes = argtypes
        _loaded = lib
        return lib


# --- module functions -------------------------------------------------------------------------


def _spread_error(code: int) -> error:
    return error(code, wire.ERROR_TEXTS.get(code, "unrecognized error"))


def _text_bytes(value: str | bytes | bytearray | memoryview) -> bytes:
    """Bytes for a C string argument; a NUL inside would silently cut it, so it is refused."""
    raw = value.encode(_NAME_ENCODING, _NAME_ERRORS) if isinstance(value, str) else bytes(value)
    if b"\0" in raw:
        raise ValueError("embedded null character")
    return raw


def _data_bytes(message: str | bytes | bytearray | memoryview) -> bytes:
    return message.encode(_NAME_ENCODING) if isinstance(message, str) else bytes(message)


def _name(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode(_NAME_ENCODING, _NAME_ERRORS)


def _int16(value: int) -> int:
    return ((int(value) + 0x8000) & 0xFFFF) - 0x8000


def connect(daemon: str | None = None, name: str = "", priority: int = 0, membership: int = 1) -> Mailbox:
    """Connect through ``SP_connect`` (default ``"4803@localhost"``); raise ``error`` on refusal."""
    lib = load()
    spread_name = _text_bytes(DEFAULT_DAEMON if daemon is None else daemon)
    mbox = ctypes.c_int(-1)
    group = ctypes.create_string_buffer(MAX_GROUP_NAME)
    code = lib.SP_connect(
        spread_name, _text_bytes(name), int(priority), int(membership), ctypes.byref(mbox), group
    )
    if code != ACCEPT_SESSION:
        raise _spread_error(code)
    return Mailbox(lib, mbox.value, _name(group.raw))


def version() -> tuple[int, int, int]:
    """The loaded library's version, from ``SP_version``."""
    major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if not load().SP_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch)):
        raise error("SP_version failed")
    return (major.value, minor.value, patch.value)


# --- mailbox ----------------------------------------------------------------------------------


class Mailbox:
    """One session with the daemon, owned by the C library (``fileno()`` is its socket)."""

    def __init__(self, lib: ctypes.CDLL, mbox: int, private_group: str) -> None:
        self._lib = lib
        self._mbox = mbox
        self._closed = False
        self._state_lock = threading.Lock()
        self.private_group = private_group

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd {self._mbox}"
        return f"<libspread Mailbox {self.private_group} {state}>"

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.disconnect()

    # --- closing ------------------------------------------------------------------------------

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise error(f"{method}() called on closed mbox")

    def _failed(self, code: int) -> error:
        """The error for ``code``; after a broken connection the library's session is released."""
        if code in (CONNECTION_CLOSED, ILLEGAL_SESSION):
            with self._state_lock:
                release = not self._closed and code == CONNECTION_CLOSED
                self._closed = True
            if release:
                # The library keeps a broken session (and its socket) until told to forget it.
                self._lib.SP_kill(self._mbox)
        return _spread_error(code)

    def disconnect(self) -> None:
        """Send KILL and close; a second call does nothing."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        code = self._lib.SP_disconnect(self._mbox)
        if code != 0:
            raise _spread_error(code)

    # --- small calls --------------------------------------------------------------------------

    def fileno(self) -> int:
        self._check_open("fileno")
        return self._mbox

    def poll(self) -> int:
        """Bytes waiting on the socket (not messages)."""
        self._check_open("poll")
        count = self._lib.SP_poll(self._mbox)
        if count < 0:
            raise self._failed(count)
        return count

    def join(self, group: str) -> None:
        self._check_open("join")
        code = self._lib.SP_join(self._mbox, _text_bytes(group))
        if code < 0:
            raise self._failed(code)

    def leave(self, group: str) -> None:
        self._check_open("leave")
        code = self._lib.SP_leave(self._mbox, _text_bytes(group))
        if code < 0:
            raise self._failed(code)

    # --- sending ------------------------------------------------------------------------------

    def multicast(self, service_type: int, group: str, message: bytes | str, msg_type: int = 0) -> int:
        """Send ``message`` to one group; return the number of data bytes sent."""
        self._check_open("multicast")
        if service_type & _VALID_SERVICE != service_type:
            raise ValueError("invalid service type")
        data = _data_bytes(message)
        sent = self._lib.SP_multicast(
            self._mbox, service_type, _text_bytes(group), _int16(msg_type), len(data), data
        )
        if sent < 0:
            raise self._failed(sent)
        return sent

    def multigroup_multicast(
        self, service_type: int, groups: tuple[str, ...], message: bytes | str, msg_type: int = 0
    ) -> int:
        """Send one message to several groups; each target session gets one copy."""
        if not isinstance(groups, tuple):
            raise TypeError("only tuples are allowed for groups")
        if not groups:
            raise ValueError("there must be at least one group in the tuple")
        slots = (_GroupName * len(groups))()
        for slot, group in zip(slots, groups, strict=True):
            if not isinstance(group, str):
                raise TypeError("groups must be strings only")
            # As SpreadModule's strncpy into 32 bytes: a 32-byte name goes out without its NUL.
            encoded = _text_bytes(group)[:MAX_GROUP_NAME]
            ctypes.memmove(slot, encoded, len(encoded))
        self._check_open("multigroup_multicast")
        if service_type & _VALID_SERVICE != service_type:
            raise ValueError("invalid service type")
        data = _data_bytes(message)
        sent = self._lib.SP_multigroup_multicast(
            self._mbox, service_type, len(groups), slots, _int16(msg_type), len(data), data
        )
        if sent < 0:
            raise self._failed(sent)
        return sent

    # --- receiving ----------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> RegularMsg | MembershipMsg:
        """Block for the next message, growing the buffers until it fits.

        ``timeout`` (an extension, seconds): raise ``TimeoutError`` if nothing arrives in
        time. Once the first bytes of a message are there, the call waits for the rest.
        """
        self._check_open("receive")
        if timeout is not None and self._lib.SP_poll(self._mbox) == 0:
            ready, _, _ = select.select([self._mbox], [], [], max(timeout, 0.0))
            if not ready:
                raise TimeoutError("no message within the timeout")
        max_groups = DEFAULT_GROUPS_SIZE
        buffer_size = DEFAULT_BUFFER_SIZE
        service = ctypes.c_int()
        sender = ctypes.create_string_buffer(MAX_GROUP_NAME)
        num_groups = ctypes.c_int()
        msg_type = ctypes.c_int16()
        endian = ctypes.c_int()
        groups = (_GroupName * max_groups)()
        data = ctypes.create_string_buffer(buffer_size)
        while True:
            # service_type is an input too: 0 asks for no DROP_RECV truncation.
            service.value = 0
            size = self._lib.SP_receive(
                self._mbox,
                ctypes.byref(service),
                sender,
                max_groups,
                ctypes.byref(num_groups),
                groups,
                ctypes.byref(msg_type),
                ctypes.byref(endian),
                buffer_size,
                data,
            )
            if size >= 0:
                break
            # One shortage is reported per call and the library keeps the header for the
            # next one, which reports the other shortage if there is one.
            if size == BUFFER_TOO_SHORT:
                buffer_size = -endian.value
                data = ctypes.create_string_buffer(buffer_size)
            elif size == GROUPS_TOO_SHORT:
                max_groups = -num_groups.value
                groups = (_GroupName * max_groups)()
            else:
                raise self._failed(size)
        kind = service.value
        names = tuple(_name(groups[i].raw) for i in range(num_groups.value))
        origin = _name(sender.raw)
        if is_regular(kind):
            return RegularMsg(origin, names, data.raw[:size], msg_type.value, endian.value)
        if is_membership(kind):
            return self._membership(kind, origin, names, data, size)
        raise error(f"Unknown message type: {kind}")

    def _membership(
        self, kind: int, group: str, members: tuple[str, ...], body: ctypes.Array, size: int
    ) -> MembershipMsg:
        """Decode a membership body with the library's own helpers, as SpreadModule does."""
        if kind & REG_MEMB_MESS:
            _check_membership_body(body.raw[:size])
        # A self-leave has no body: the helpers then read the fresh, zeroed buffer.
        info = _MembershipInfo()
        code = self._lib.SP_get_memb_info(body, kind, ctypes.byref(info))
        if code < 0:
            raise error(f"error {code} on SP_get_memb_info")
        extra: tuple[str, ...] = ()
        count = info.my_vs_set.num_members
        if count:
            names = (_GroupName * count)()
            code = self._lib.SP_get_vs_set_members(body, ctypes.byref(info.my_vs_set), names, count)
            if code < 0:
                raise error(f"error {code} on SP_get_vs_set_members")
            extra = tuple(_name(name.raw) for name in names)
        changed = None
        if kind & REG_MEMB_MESS and kind & _ONE_MEMBER_CAUSES:
            changed = _name(info.changed_member)
        return MembershipMsg(
            kind & _CAUSED_BY_MASK,
            group,
            GroupId(*info.gid.id),
            members,
            extra,
            kind & (TRANSITION_MESS | REG_MEMB_MESS),
            changed,
        )


def _check_membership_body(body: bytes) -> None:
    """Refuse a body whose vs-set offsets point outside it: the C helpers would read past it."""
    # The library has already put the body in this host's byte order.
    if len(body) < _MEMB_FIRST_VS_SET + 4:
        raise _spread_error(ILLEGAL_MESSAGE)
    (offset,) = struct.unpack_from("=I", body, _MEMB_OFFSET_FIELD)
    own_set = _MEMB_FIRST_VS_SET + offset
    if own_set + 4 > len(body):
        raise _spread_error(ILLEGAL_MESSAGE)
    (count,) = struct.unpack_from("=I", body, own_set)
    if own_set + 4 + count * MAX_GROUP_NAME > len(body):
        raise _spread_error(ILLEGAL_MESSAGE)


MailboxType = Mailbox
