"""The text payloads carried in the ``data`` field of service messages.

* connection-info strings: ``&name=value&name=value&...&``, the data of CONNECT_GROUP_MSG
  and of state-of-health reports, and what readers make of them (:class:`ClientStatus`);
* the data of CONNECT_GROUP_OK_MSG in protocol versions 1.0 and 1.1 (:class:`ConnectOk`);
* the data of JOIN_GROUP_MSG / LEAVE_GROUP_MSG synthesized from Spread membership;
* the client list of LIST_CONNECTED_CLIENTS_RESPONSE_MSG (:class:`ClientListEntry`);
* the uptime notations of state-of-health reports and of the client list.

Everything is ``str``; message bodies carry it one character per byte (latin-1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from scmaster3.protocol.constants import (
    HEADER_GROUP_TAG,
    HEADER_SCHEMA_VERSION_TAG,
    HEADER_SERVER_VERSION_TAG,
    IMPORT_GROUP,
    PROTOCOL_VERSION_V1_0,
    PROTOCOL_VERSION_V1_1,
    SCHEMA_VERSION,
    STATUS_GROUP,
)
from scmaster3.protocol.errors import ProtocolError
from scmaster3.protocol.names import client_name as _client_name_of

# ---------------------------------------------------------------------------------------------
# Connection-info strings


def format_items(items: Iterable[tuple[str, object]]) -> str:
    """``name=value&`` for each item, back to back: what the master appends to a report."""
    return "".join(f"{name}={value}&" for name, value in items)


def format_connection_info(items: Iterable[tuple[str, object]]) -> str:
    """A connection-info string: ``&`` followed by ``name=value&`` for each item."""
    return "&" + format_items(items)


def connection_info_value(text: str, name: str) -> str | None:
    """The value of ``name`` as SeisComP3 readers find it: after the first ``&name=``, up to ``&``.

    None when the string has no ``&name=``.
    """
    marker = f"&{name}="
    start = text.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = text.find("&", start)
    return text[start:] if end < 0 else text[start:end]


def parse_connection_info(text: str) -> dict[str, str]:
    """Every ``name=value`` item of a connection-info string, in order.

    The first occurrence of a name wins (as with :func:`connection_info_value`); items
    without ``=`` (object-flow monitor items such as ``in(...)``, empty items) are skipped.
    """
    values: dict[str, str] = {}
    for item in text.split("&"):
        name, separator, value = item.partition("=")
        if separator and name not in values:
            values[name] = value
    return values


@dataclass(frozen=True)
class ClientStatus:
    """A state-of-health report (or CONNECT data) as SeisComP3 readers interpret it.

    Values are the text found after ``&<tag>=``; a tag that is absent gives ``""``.
    """

    private_group: str = ""
    host_name: str = ""
    ips: str = ""
    program_name: str = ""
    pid: str = ""
    cpu_usage: str = ""
    total_memory: str = ""
    client_memory_usage: str = ""
    sent_messages: str = ""
    received_messages: str = ""
    message_queue_size: str = ""
    summed_message_queue_size: str = ""
    summed_message_size: str = ""
    object_count: str = ""
    uptime: str = ""

    @classmethod
    def parse(cls, text: str) -> ClientStatus:
        """Read the tags of a connection-info string; never fails."""
        return cls(**{field: connection_info_value(text, tag) or "" for field, tag in _STATUS_TAGS.items()})

    @property
    def client_name(self) -> str:
        """The client name in ``privategroup`` (token 1 of its ``#`` split)."""
        return _client_name_of(self.private_group)

    def memory_usage_percent(self) -> float:
        """clientmemoryusage / totalmemory x 100, one decimal; 0.0 when unknown."""
        total = _integer(self.total_memory)
        return round(_integer(self.client_memory_usage) / total * 100, 1) if total else 0.0

    def average_message_queue_size(self) -> int:
        """summedmessagequeuesize / receivedmessages (integer division), 0 if none received."""
        received = _integer(self.received_messages)
        return _integer(self.summed_message_queue_size) // received if received > 0 else 0

    def average_message_size(self) -> int:
        """summedmessagesize / receivedmessages (integer division), 0 if none received."""
        received = _integer(self.received_messages)
        return _integer(self.summed_message_size) // received if received > 0 else 0


_STATUS_TAGS = {
    "private_group": "privategroup",
    "host_name": "hostname",
    "ips": "ips",
    "program_name": "programname",
    "pid": "pid",
    "cpu_usage": "cpuusage",
    "total_memory": "totalmemory",
    "client_memory_usage": "clientmemoryusage",
    "sent_messages": "sentmessages",
    "received_messages": "receivedmessages",
    "message_queue_size": "messagequeuesize",
    "summed_message_queue_size": "summedmessagequeuesize",
    "summed_message_size": "summedmessagesize",
    "object_count": "objectcount",
    "uptime": "uptime",
}


_DECIMAL = re.compile(r"[+-]?[0-9]+")


def _integer(text: str) -> int:
    return int(text) if _DECIMAL.fullmatch(text) else 0


# ---------------------------------------------------------------------------------------------
# Uptime notations


def _split_duration(seconds: int) -> tuple[int, int, int, int]:
    seconds = max(int(seconds), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return days, hours, minutes, seconds


def format_soh_uptime(seconds: int) -> str:
    """The ``uptime=`` value of a state-of-health report: ``<days>:<HH>:<MM>:<SS>``."""
    days, hours, minutes, secs = _split_duration(seconds)
    return f"{days}:{hours:02d}:{minutes:02d}:{secs:02d}"


def format_list_uptime(seconds: int) -> str:
    """The uptime field of the client list: ``<d>:<h>:<m>:<s>`` without zero padding."""
    days, hours, minutes, secs = _split_duration(seconds)
    return f"{days}:{hours}:{minutes}:{secs}"


# ---------------------------------------------------------------------------------------------
# CONNECT_GROUP_OK_MSG


@dataclass(frozen=True)
class ConnectOk:
    """The data of a CONNECT_GROUP_OK_MSG.

    Version 1.0 carries only ``groups``; version 1.1 adds ``server_version`` (free text with
    at least one non-space character) and ``schema_version`` (major, minor). After parsing,
    ``server_version``/``schema_version`` are None when the data did not carry them (or, for
    the schema version, carried something a client cannot read: it then uses version 0).
    """

    groups: tuple[str, ...]
    server_version: str | None = None
    schema_version: tuple[int, int] | None = None

    def format(self, protocol_version: str) -> str:
        """The data as the master writes it for ``protocol_version`` (no trailing newline)."""
        groups = ",".join(self.groups)
        if protocol_version == PROTOCOL_VERSION_V1_0:
            return groups
        if protocol_version != PROTOCOL_VERSION_V1_1:
            raise ProtocolError(f"unknown protocol version {protocol_version!r}")
        if self.server_version is None or not self.server_version.strip():
            raise ProtocolError("a version 1.1 CONNECT_GROUP_OK needs a non-blank Server-Version")
        if self.schema_version is None:
            raise ProtocolError("a version 1.1 CONNECT_GROUP_OK needs a Schema-Version")
        if "\n" in self.server_version:
            raise ProtocolError("Server-Version must be one line")
        major, minor = self.schema_version
        return (
            f"{HEADER_SERVER_VERSION_TAG}: {self.server_version}\n"
            f"{HEADER_GROUP_TAG}: {groups}\n"
            f"{HEADER_SCHEMA_VERSION_TAG}: {major}.{minor}"
        )

    @classmethod
    def parse(cls, text: str, protocol_version: str) -> ConnectOk:
        """Read the data as a SeisComP3 client does.

        1.0: the whole text, trimmed, is the comma-separated group list. 1.1: lines split on
        ``\\n``; lines without ``:`` and unknown tags are ignored; the tag before the first
        ``:`` must match exactly; the Groups value is trimmed as a whole (items are not).
        """
        if protocol_version == PROTOCOL_VERSION_V1_0:
            return cls(groups=_group_list(text))
        if protocol_version != PROTOCOL_VERSION_V1_1:
            raise ProtocolError(f"unknown protocol version {protocol_version!r}")
        groups: tuple[str, ...] = ()
        server_version = None
        schema_version = None
        for line in text.split("\n"):
            tag, separator, value = line.partition(":")
            if not separator:
                continue
            if tag == HEADER_GROUP_TAG:
                groups = _group_list(value)
            elif tag == HEADER_SERVER_VERSION_TAG:
                server_version = value.lstrip()
            elif tag == HEADER_SCHEMA_VERSION_TAG:
                schema_version = parse_schema_version(value)
        return cls(groups=groups, server_version=server_version, schema_version=schema_version)

    def encoding_schema_version(
        self, protocol_version: str, client_version: tuple[int, int] = SCHEMA_VERSION
    ) -> tuple[int, int]:
        """The schema version a client encodes with after this OK: (0, 0) for 1.0 or none
        announced, else the announced one capped at the client's own."""
        if protocol_version != PROTOCOL_VERSION_V1_1 or self.schema_version is None:
            return (0, 0)
        return min(self.schema_version, client_version)


def _group_list(text: str) -> tuple[str, ...]:
    text = text.strip()
    return tuple(text.split(",")) if text else ()


# strtol in base 10 on the whole part: leading blanks and a sign allowed, nothing after.
_STRTOL_DECIMAL = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")


def parse_schema_version(text: str) -> tuple[int, int] | None:
    """``<major>.<minor>`` as a client reads it (strtol on each part), or None if unreadable.

    Both parts must be whole decimal numbers from 0 to 65535 (leading blanks allowed).
    """
    major_text, separator, minor_text = text.partition(".")
    if not separator:
        return None
    parts = []
    for part in (major_text, minor_text):
        if not _STRTOL_DECIMAL.fullmatch(part):
            return None
        value = int(part)
        if not 0 <= value < 65536:
            return None
        parts.append(value)
    return parts[0], parts[1]


def with_default_groups(groups: Iterable[str]) -> tuple[str, ...]:
    """A client's group list after the handshake: IMPORT_GROUP, then STATUS_GROUP, put in
    front when missing."""
    result = list(groups)
    for group in (IMPORT_GROUP, STATUS_GROUP):
        if group not in result:
            result.insert(0, group)
    return tuple(result)


# ---------------------------------------------------------------------------------------------
# JOIN_GROUP_MSG / LEAVE_GROUP_MSG


@dataclass(frozen=True)
class MembershipChange:
    """What a JOIN_GROUP_MSG or LEAVE_GROUP_MSG says: who joined or left which group.

    ``members`` is the group's member list after a join; a leave carries none.
    """

    group: str
    member: str
    members: tuple[str, ...] = ()

    def format_join(self) -> str:
        """JOIN_GROUP_MSG data: ``?<group>&<member>?<member0>&...&<memberN>``."""
        return f"?{self.group}&{self.member}?" + "&".join(self.members)

    def format_leave(self) -> str:
        """LEAVE_GROUP_MSG data: ``?<group>&<member>?``."""
        return f"?{self.group}&{self.member}?"

    @classmethod
    def parse(cls, text: str) -> MembershipChange:
        """Read the data of either message; ProtocolError if it lacks the ``?group&member?`` frame."""
        if not text.startswith("?"):
            raise ProtocolError(f"membership data does not start with '?': {text[:40]!r}")
        head, separator, tail = text[1:].partition("?")
        group, ampersand, member = head.partition("&")
        if not separator or not ampersand:
            raise ProtocolError(f"membership data lacks '?<group>&<member>?': {text[:40]!r}")
        return cls(group=group, member=member, members=tuple(tail.split("&")) if tail else ())


# ---------------------------------------------------------------------------------------------
# LIST_CONNECTED_CLIENTS_RESPONSE_MSG


@dataclass(frozen=True)
class ClientListEntry:
    """One client of the master's list, each field as text.

    ``client_type``/``client_priority`` are names (``CLIENT_TYPE_DEFAULT``, see
    ``client_type_name``), ``ips`` keeps its trailing space, ``uptime`` is
    :func:`format_list_uptime` notation.
    """

    private_group: str
    client_type: str
    client_priority: str
    program_name: str
    host_name: str
    ips: str
    uptime: str

    def format(self) -> str:
        """The entry: seven ``?``-terminated fields."""
        return "".join(
            f"{field}?"
            for field in (
                self.private_group,
                self.client_type,
                self.client_priority,
                self.program_name,
                self.host_name,
                self.ips,
                self.uptime,
            )
        )


def format_client_list(entries: Iterable[ClientListEntry]) -> str:
    """The response data: entries joined by ``&``; an empty list gives ``""``."""
    return "&".join(entry.format() for entry in entries)


def parse_client_list(text: str) -> list[ClientListEntry]:
    """Read the response data; ProtocolError if an entry does not have seven ``?``-terminated fields."""
    if not text:
        return []
    entries = []
    for index, record in enumerate(text.split("&")):
        fields = record.split("?")
        if len(fields) != 8 or fields[7]:
            raise ProtocolError(f"client list entry {index} is not seven '?'-terminated fields: {record!r}")
        entries.append(ClientListEntry(*fields[:7]))
    return entries
