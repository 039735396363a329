"""Reader of Spread's ``spread.conf`` (the part a single client-serving daemon needs).

The file SeisComP3 generates looks like::

    Spread_Segment 127.0.0.255:4803 {
        localhost 127.0.0.1
    }
    SocketPortReuse = ON

In general: ``#`` starts a comment; ``Spread_Segment <address>[:<port>] { ... }`` lists
daemons as ``[<name>] <address> [{ <interfaces> }]``, each interface ``[<types>] <address>``
with types made of the letters D (daemon traffic), C (clients) and M (monitor); an
interface without letters serves all three. Settings are ``Key = value``, where the value
is a word, a quoted string or ``{ words }``; ``EventTimeStamp`` may stand alone.

What the daemon takes from it: its own entry (by name), the segment's port (the client
port), the addresses to listen on for clients (the entry's C or untyped interfaces; none
listed means every address, as Spread binds INADDR_ANY), and ``MaxSessionMessages``,
``AllowedAuthMethods``, ``RequiredAuthMethods``, ``AccessControlPolicy``. Other Spread keys
are accepted and reported in ``ignored``, others in ``unknown``. Errors name the file, the line and the key.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from spreadbus import wire

# Keys Spread 4 knows that do not change what clients see of a single daemon.
_INERT_KEYS = {
    "eventlogfile",
    "eventtimestamp",
    "eventprecisetimestamp",
    "eventpriority",
    "debugflags",
    "dangerousmonitor",
    "socketportreuse",
    "runtimedir",
    "daemonuser",
    "daemongroup",
    "window",
    "personalwindow",
    "activeipversion",
}
_STANDALONE_KEYS = {"eventtimestamp", "eventprecisetimestamp"}
_TOKEN = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|[{}=]|[^\s{}="#]+')


class ConfigError(Exception):
    """A spread.conf that cannot be used; the message names file, line and key."""

    def __init__(self, path: str, line: int, key: str, reason: str) -> None:
        super().__init__(f"{path}:{line}: {key}: {reason}")
        self.path = path
        self.line = line
        self.key = key


@dataclass(frozen=True)
class Interface:
    address: str
    types: str  # subset of "CDM"; "" means all

    @property
    def serves_clients(self) -> bool:
        return not self.types or "C" in self.types


@dataclass(frozen=True)
class DaemonEntry:
    name: str
    address: str
    interfaces: tuple[Interface, ...]
    line: int

    @property
    def client_addresses(self) -> list[str]:
        """Where clients are served; ``[]`` means every address (no interfaces listed)."""
        return [i.address for i in self.interfaces if i.serves_clients]


@dataclass(frozen=True)
class Segment:
    address: str
    port: int
    daemons: tuple[DaemonEntry, ...]
    line: int


@dataclass
class SpreadConfig:
    path: str
    segments: list[Segment] = field(default_factory=list)
    settings: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (value, line)
    ignored: list[str] = field(default_factory=list)  # Spread keys without effect here
    unknown: list[str] = field(default_factory=list)  # keys Spread 4 does not know either

    def daemons(self) -> list[tuple[Segment, DaemonEntry]]:
        return [(s, d) for s in self.segments for d in s.daemons]

    def find_daemon(self, name: str | None = None) -> tuple[Segment, DaemonEntry]:
        """The entry named ``name``; without a name the only entry, or the one whose
        address belongs to this machine (Spread's own rule)."""
        entries = self.daemons()
        if not entries:
            raise ConfigError(self.path, 1, "Spread_Segment", "no daemon is configured")
        if name is not None:
            for segment, entry in entries:
                if entry.name == name:
                    return segment, entry
            raise ConfigError(
                self.path, entries[0][1].line, name, "no daemon of this name in the configuration"
            )
        if len(entries) == 1:
            return entries[0]
        local = [(s, d) for s, d in entries if _is_local_address(d.address)]
        if len(local) != 1:
            raise ConfigError(
                self.path,
                entries[0][1].line,
                "Spread_Segment",
                f"{len(local)} daemon entries match this machine; choose one with -n",
            )
        return local[0]

    @property
    def max_session_messages(self) -> int:
        value, line = self.settings.get("maxsessionmessages", (str(wire.DEFAULT_MAX_SESSION_MESSAGES), 0))
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(self.path, line, "MaxSessionMessages", f"{value!r} is not a positive integer")
        return int(value)


def _is_local_address(address: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def _tokens(text: str) -> list[tuple[str, int]]:
    out = []
    line = 1
    for match in _TOKEN.finditer(text):
        token = match.group()
        if not token.isspace() and not token.startswith("#"):
            out.append((token, line))
        line += token.count("\n")
    return out


def _split_port(value: str, path: str, line: int) -> tuple[str, int]:
    address, sep, port = value.partition(":")
    if not sep:
        return address, wire.DEFAULT_SPREAD_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(path, line, "Spread_Segment", f"bad port in {value!r}")
    return address, int(port)


def _check_address(value: str, path: str, line: int, key: str) -> str:
    try:
        socket.inet_aton(value)
    except OSError:
        raise ConfigError(path, line, key, f"{value!r} is not an IPv4 address") from None
    if value.count(".") != 3:
        raise ConfigError(path, line, key, f"{value!r} is not a dotted IPv4 address")
    return value


class _Reader:
    def __init__(self, text: str, path: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.path = path

    def peek(self) -> tuple[str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, int]:
        token = self.peek()
        if token is None:
            last = self.tokens[-1][1] if self.tokens else 1
            raise ConfigError(self.path, last, what, "unexpected end of file")
        self.pos += 1
        return token

    def expect(self, symbol: str, key: str) -> None:
        token, line = self.take(key)
        if token != symbol:
            raise ConfigError(self.path, line, key, f"expected {symbol!r}, found {token!r}")


def parse_config(text: str, path: str = "spread.conf") -> SpreadConfig:
    """Parse the text of a spread.conf."""
    config = SpreadConfig(path)
    reader = _Reader(text, path)
    while reader.peek() is not None:
        word, line = reader.take("configuration")
        if word in ("{", "}", "="):
            raise ConfigError(path, line, word, "unexpected symbol")
        if word.lower() == "spread_segment":
            config.segments.append(_segment(reader, line))
            continue
        key = word.lower()
        following = reader.peek()
        if following is not None and following[0] == "=":
            reader.take(word)
            value = _value(reader, word)
        elif key in _STANDALONE_KEYS:
            value = "true"
        else:
            raise ConfigError(path, line, word, "expected '=' after the key")
        _setting(config, word, key, value, line)
    names = [d.name for _, d in config.daemons()]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(path, 1, name, "daemon name configured twice")
    return config


def load_config(path: str | Path) -> SpreadConfig:
    """Read and parse a spread.conf file."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(str(path), 0, "file", exc.strerror or str(exc)) from None
    return parse_config(text, str(path))


def _value(reader: _Reader, key: str) -> str:
    token, line = reader.take(key)
    if token == "{":
        words = []
        while True:
            token, line = reader.take(key)
            if token == "}":
                return " ".join(words)
            if token in ("{", "="):
                raise ConfigError(reader.path, line, key, f"unexpected {token!r} in a list")
            words.append(token.strip('"'))
    if token in ("}", "="):
        raise ConfigError(reader.path, line, key, f"missing value before {token!r}")
    return token.strip('"')


def _setting(config: SpreadConfig, word: str, key: str, value: str, line: int) -> None:
    path = config.path
    if key in ("allowedauthmethods", "requiredauthmethods"):
        methods = value.split()
        if key == "allowedauthmethods" and "NULL" not in methods:
            raise ConfigError(path, line, word, f"only the NULL method is implemented, not {value!r}")
        if key == "requiredauthmethods" and methods:
            raise ConfigError(path, line, word, "required authentication methods are not implemented")
    elif key == "accesscontrolpolicy":
        if value.upper() != "PERMIT":
            raise ConfigError(path, line, word, f"only the PERMIT policy is implemented, not {value!r}")
    elif key == "maxsessionmessages":
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(path, line, word, f"{value!r} is not a positive integer")
    elif key in _INERT_KEYS:
        config.ignored.append(word)
    else:
        config.unknown.append(word)
    config.settings[key] = (value, line)


def _segment(reader: _Reader, line: int) -> Segment:
    path = reader.path
    spec, spec_line = reader.take("Spread_Segment")
    address, port = _split_port(spec, path, spec_line)
    _check_address(address, path, spec_line, "Spread_Segment")
    reader.expect("{", "Spread_Segment")
    daemons = []
    while True:
        token, tline = reader.take("Spread_Segment")
        if token == "}":
            break
        if token in ("{", "="):
            raise ConfigError(path, tline, "Spread_Segment", f"unexpected {token!r}")
        following = reader.peek()
        if following is not None and following[0] not in ("{", "}") and _looks_like_address(following[0]):
            name = token
            reader.take("Spread_Segment")
            daemon_address = following[0]
        else:
            name = token  # an address alone: Spread names the daemon after it
            daemon_address = token
        _check_address(daemon_address, path, tline, name)
        if len(name) >= wire.MAX_PROC_NAME:
            raise ConfigError(
                path, tline, name, f"daemon name longer than {wire.MAX_PROC_NAME - 1} characters"
            )
        if not wire.is_legal_name(name.encode("latin-1"), wire.MAX_PROC_NAME - 1):
            raise ConfigError(path, tline, name, "illegal character in daemon name")
        interfaces: list[Interface] = []
        following = reader.peek()
        if following is not None and following[0] == "{":
            reader.take(name)
            interfaces = _interfaces(reader, name)
        daemons.append(DaemonEntry(name, daemon_address, tuple(interfaces), tline))
    return Segment(address, port, tuple(daemons), line)


def _looks_like_address(token: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", token))


def _interfaces(reader: _Reader, daemon: str) -> list[Interface]:
    interfaces = []
    while True:
        token, line = reader.take(daemon)
        if token == "}":
            return interfaces
        types = ""
        if not _looks_like_address(token):
            if not re.fullmatch(r"[CDM]+", token.upper()):
                raise ConfigError(reader.path, line, daemon, f"unknown interface type {token!r}")
            types = token.upper()
            token, line = reader.take(daemon)
        interfaces.append(Interface(_check_address(token, reader.path, line, daemon), types))
