"""Numbers and names of the SeisComP3 messaging protocol.

Message types, content types, client types and priorities keep the names of SeisComP3's
``protocol.h`` so that log lines read the same as the original's. The reserved groups, the
protocol versions, the handshake header tags, the size limits and the facts about the
Spread envelope that carries every message live here too.
"""

from __future__ import annotations

from enum import IntEnum

# The Spread facts SeisComP3 relies on come from the Spread wire codec, re-exported here.
from spreadbus.wire import DEFAULT_SPREAD_PORT as DEFAULT_SPREAD_PORT
from spreadbus.wire import FIFO_MESS as FIFO_MESS
from spreadbus.wire import MAX_GROUP_NAME, MAX_PRIVATE_NAME
from spreadbus.wire import SELF_DISCARD as SELF_DISCARD


class MessageType(IntEnum):
    """The ``type`` field of a message body and the Spread message type that carries it.

    Negative values are service messages, positive ones data messages (whose ``type`` also
    holds a content type in bits 8 and up, see :func:`data_type`), 0 is never valid.
    """

    UNDEFINED_MSG = 0
    DATA_MSG = 1
    ARCHIVE_MSG = 2
    CONNECT_GROUP_MSG = -1
    CONNECT_GROUP_REJECT_MSG = -2
    ADMIN_REJECT_MSG = -3
    CONNECT_GROUP_OK_MSG = -4
    JOIN_GROUP_MSG = -5
    LEAVE_GROUP_MSG = -6
    CLIENT_DISCONNECTED_MSG = -7
    INVALID_GROUP_MSG = -8
    MASTER_DISCONNECTED_MSG = -9
    ARCHIVE_SERVICE_MSG = -10
    ARCHIVE_REQUEST_MSG = -11
    # The lower-case l is SeisComP3's own spelling, printed in its logs.
    INVAlID_ARCHIVE_REQUEST_MSG = -12
    INVALID_ARCHIVE_REQUEST_MSG = -12
    INVALID_PROTOCOL_MSG = -13
    STATE_OF_HEALTH_CMD_MSG = -14
    STATE_OF_HEALTH_RESPONSE_MSG = -15
    REJECTED_CMD_MSG = -16
    LIST_CONNECTED_CLIENTS_CMD_MSG = -17
    LIST_CONNECTED_CLIENTS_RESPONSE_MSG = -18
    CLIENT_DISCONNECT_CMD_MSG = -19


class ContentType(IntEnum):
    """How the ``data`` field of a data message is encoded (``type >> 8``)."""

    CONTENT_BINARY = 0
    CONTENT_XML = 1
    CONTENT_UNCOMPRESSED_XML = 2
    CONTENT_IMPORTED_XML = 3
    CONTENT_BSON = 4
    CONTENT_UNCOMPRESSED_BSON = 5
    CONTENT_JSON = 6
    CONTENT_UNCOMPRESSED_JSON = 7


class ClientType(IntEnum):
    """The ``clientType`` of a service message; printed as ``CLIENT_TYPE_<suffix>``."""

    TYPE_DEFAULT = 0
    TYPE_ONE = 1
    TYPE_TWO = 2
    TYPE_THREE = 3


class ClientPriority(IntEnum):
    """The ``clientPriority`` of a service message; printed as ``CLIENT_PRIORITY_<suffix>``."""

    PRIORITY_DEFAULT = 0
    PRIORITY_HIGH = 1
    PRIORITY_MEDIUM = 2
    PRIORITY_LOW = 3


# Bits 0-6 of a data message's type hold the message type, bits 8 and up the content type.
MESSAGE_TYPE_MASK = 0x7F
CONTENT_TYPE_SHIFT = 8

# Content types whose data field is a zlib stream; the others are stored as they are.
COMPRESSED_CONTENT_TYPES = frozenset(
    {ContentType.CONTENT_BINARY, ContentType.CONTENT_XML, ContentType.CONTENT_BSON, ContentType.CONTENT_JSON}
)


def data_type(
    message_type: int = MessageType.DATA_MSG, content_type: int = ContentType.CONTENT_BINARY
) -> int:
    """The body ``type`` of a data message: ``data_type(DATA_MSG, CONTENT_XML) == 257``."""
    return (content_type << CONTENT_TYPE_SHIFT) | (message_type & MESSAGE_TYPE_MASK)


def message_type_of(type_: int) -> int:
    """The message type (DATA_MSG, ARCHIVE_MSG) held in a data message's ``type``."""
    return type_ & MESSAGE_TYPE_MASK


def content_type_of(type_: int) -> int:
    """The content type held in a data message's ``type``."""
    return type_ >> CONTENT_TYPE_SHIFT


def type_name(type_: int) -> str:
    """A readable name for a body ``type``, as log lines print it.

    Service codes give their protocol.h name (``CONNECT_GROUP_OK_MSG``), data types
    ``<message type>/<content type>`` (``DATA_MSG/BINARY``, ``DATA_MSG/XML``), anything
    else ``UNKNOWN(<value>)``.
    """
    if type_ < 0:
        try:
            return MessageType(type_).name
        except ValueError:
            return f"UNKNOWN({type_})"
    if type_ == 0:
        return MessageType.UNDEFINED_MSG.name
    try:
        message = MessageType(message_type_of(type_))
        content = ContentType(content_type_of(type_))
    except ValueError:
        return f"UNKNOWN({type_})"
    if message is MessageType.UNDEFINED_MSG:
        return f"UNKNOWN({type_})"
    return f"{message.name}/{content.name.removeprefix('CONTENT_')}"


def client_type_name(value: int) -> str:
    """``CLIENT_TYPE_DEFAULT`` ... ``CLIENT_TYPE_THREE``; values outside 0-3 are clamped."""
    return "CLIENT_" + ClientType(min(max(value, 0), 3)).name


def client_priority_name(value: int) -> str:
    """``CLIENT_PRIORITY_DEFAULT`` ... ``CLIENT_PRIORITY_LOW``; values outside 0-3 are clamped."""
    return "CLIENT_" + ClientPriority(min(max(value, 0), 3)).name


# Protocol versions and the header tags of a version 1.1 CONNECT_GROUP_OK_MSG.
PROTOCOL_VERSION_V1_0 = "1.0"
PROTOCOL_VERSION_V1_1 = "1.1"
PROTOCOL_VERSIONS = (PROTOCOL_VERSION_V1_0, PROTOCOL_VERSION_V1_1)
HEADER_SERVER_VERSION_TAG = "Server-Version"
HEADER_GROUP_TAG = "Groups"
HEADER_SCHEMA_VERSION_TAG = "Schema-Version"

# The data model schema version this implementation speaks (major, minor).
SCHEMA_VERSION = (0, 11)

# Names: the master's fixed Spread name and the default admin client name.
MASTER_CLIENT_NAME = "_MASTER_"
DEFAULT_ADMIN_CLIENT_NAME = "ADMIN"

# Reserved groups.
MASTER_GROUP = "MASTER_GROUP"
LISTENER_GROUP = "LISTENER_GROUP"
IMPORT_GROUP = "IMPORT_GROUP"
ADMIN_GROUP = "ADMIN_GROUP"
STATUS_GROUP = "STATUS_GROUP"
# Primary groups the master accepts whatever msgGroups says.
ALWAYS_ACCEPTED_GROUPS = frozenset({ADMIN_GROUP, LISTENER_GROUP, IMPORT_GROUP, STATUS_GROUP})

# Sequence numbers and the master's message ring.
MAX_SEQ_NUM = 65536
MASTER_ARCHIVE_SIZE = 9000
# The counter wraps at a multiple of the ring size so that seqNum mod 9000 stays consistent.
MAX_SEQUENCE_COUNTER = MAX_SEQ_NUM - MAX_SEQ_NUM % MASTER_ARCHIVE_SIZE


def next_sequence_number(counter: int) -> int:
    """The master's next sequence number after ``counter``: 1, 2, ..., 63000, 0, 1, ..."""
    return 0 if counter >= MAX_SEQUENCE_COUNTER else counter + 1


# Size limits.
STD_MSG_LEN = 1048576
# Largest serialized body a sender may produce and a receiver can take.
MAX_BODY_SIZE = STD_MSG_LEN
# Room for group names given to SP_receive; a group with more members breaks C++ receivers.
MAX_GROUPS = 100
# Spread's limits on names: a client name, and a group name including its terminator.
MAX_CLIENT_NAME_LENGTH = MAX_PRIVATE_NAME
MAX_GROUP_NAME_LENGTH = MAX_GROUP_NAME

# The Spread envelope: one regular message to one group per SeisComP3 message.
# Service type of every send of the client library and the master.
SERVICE_TYPE = FIFO_MESS | SELF_DISCARD
# The master's own periodic report goes to its private group without SELF_DISCARD.
MASTER_REPORT_SERVICE_TYPE = FIFO_MESS
DEFAULT_SPREAD_DAEMON = "localhost"


def spread_mess_type(type_: int) -> int:
    """The Spread 16-bit signed message type that carries a body of this ``type``."""
    return ((type_ + 0x8000) & 0xFFFF) - 0x8000


# Timing (seconds).
HANDSHAKE_TIMEOUT = 3.0
HANDSHAKE_POLL_INTERVAL = 0.2
SOH_TIMER_INTERVAL = 3.0
SOH_INTERVAL = 12.0
CLIENT_RETRY_INTERVAL = 2.0
MASTER_RECONNECT_INTERVAL = 1.0
