"""Client names, private groups and messaging addresses.

A client's Spread private group is ``#<client name>#<daemon name>``. SeisComP3 gets the
client name back by splitting on ``#`` with runs of ``#`` counting as one separator (a
leading ``#`` still yields an empty first token) and taking token 1 when there are at
least two tokens, else the whole string; the host (daemon) name is the last token.
"""

from __future__ import annotations

import re

from scmaster3.protocol.constants import (
    DEFAULT_SPREAD_DAEMON,
    DEFAULT_SPREAD_PORT,
    MASTER_CLIENT_NAME,
)
from scmaster3.protocol.errors import ProtocolError
from spreadbus import wire

_SEPARATORS = re.compile("#+")

# The only messaging driver this implementation speaks.
SPREAD_DRIVER = "spread"


def _tokens(private_group: str) -> list[str]:
    return _SEPARATORS.split(private_group)


def private_group(client_name: str, daemon: str = DEFAULT_SPREAD_DAEMON) -> str:
    """The private group Spread gives client ``client_name`` on ``daemon``: ``#name#daemon``."""
    return wire.private_group(client_name, daemon).decode("latin-1")


def client_name(private_group: str) -> str:
    """The client name in a private group: ``#ADMIN#localhost`` -> ``ADMIN``."""
    tokens = _tokens(private_group)
    return tokens[1] if len(tokens) >= 2 else private_group


def host_name(private_group: str) -> str:
    """The daemon (host) name in a private group: its last ``#``-separated token."""
    return _tokens(private_group)[-1]


def is_master_member(member: str) -> bool:
    """Whether a departed group member was a master, so clients report MASTER_DISCONNECTED_MSG.

    True when the name splits into exactly three tokens and the middle one is ``_MASTER_``.
    """
    tokens = _tokens(member)
    return len(tokens) == 3 and tokens[1] == MASTER_CLIENT_NAME


def split_driver(address: str) -> tuple[str, str]:
    """Split a messaging address into driver and rest: ``spread://host:4803`` -> (spread, host:4803).

    Without a ``<driver>://`` prefix the driver is ``spread``.
    """
    driver, separator, rest = address.partition("://")
    return (driver, rest) if separator else (SPREAD_DRIVER, address)


def spread_daemon_address(address: str, *, allow_spread_form: bool = True) -> str:
    """The Spread daemon name (``port@host``) for a SeisComP3 messaging address.

    Empty means ``4803@localhost``; ``host[:port]`` becomes ``port@host`` (port 4803 when
    omitted; otherwise a number from 1 to 65535). A string containing ``@`` is taken verbatim as Spread's own form, unless
    ``allow_spread_form`` is false (scmaster's ``-H`` refuses it). More than one ``:`` is an
    error. A ``<driver>://`` prefix other than ``spread://`` is an error too.
    """
    driver, rest = split_driver(address)
    if driver != SPREAD_DRIVER:
        raise ProtocolError(f"messaging driver {driver!r} is not supported in {address!r}")
    if "@" in rest:
        if not allow_spread_form:
            raise ProtocolError(f"address {address!r}: expected host[:port], not port@host")
        return rest
    if not rest:
        return f"{DEFAULT_SPREAD_PORT}@localhost"
    if rest.count(":") > 1:
        raise ProtocolError(f"address {address!r} has more than one ':'")
    host, _, port = rest.partition(":")
    if not port:
        return f"{DEFAULT_SPREAD_PORT}@{host}"
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ProtocolError(f"address {address!r}: port {port!r} is not a number from 1 to 65535")
    return f"{int(port)}@{host}"
