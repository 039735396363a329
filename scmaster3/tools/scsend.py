"""``scsend3``: send the objects of an sc3ml file to the messaging system as notifiers.

It does what SeisComP3's ``scdispatch`` does with a file: every object of the document
becomes one notifier (``-O add``/``update`` top-down, parents before children; ``-O remove``
bottom-up, children first), each notifier travels in a notifier message of its own to the
group its class is routed to, and a final sync request waits until the master has stored
everything. The root object itself (EventParameters, Inventory, ...) is never sent. A file
holding a notifier message is sent as it is, one notifier per message.

Routing: by default by class, as scdispatch does (Pick to PICK, Origin and its arrivals to
LOCATION, ...): an object without an entry takes the group of its nearest routed ancestor,
and is skipped (with a warning) if it has none. ``--routingtable Class:GROUP,...`` replaces
the table; ``-g/--group`` sends everything to one group.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Mapping

from scmaster3.client import ENCODINGS, ClientError, Connection
from scmaster3.datamodel import BaseObject, Notifier, NotifierMessage, Object, PublicObject
from scmaster3.io import ArchiveError, xml
from scmaster3.tools.common import configure_logging, report_failure

log = logging.getLogger("scsend3")

OPERATIONS = ("add", "update", "remove")

DEFAULT_ROUTING: dict[str, str] = {
    "Pick": "PICK",
    "Amplitude": "AMPLITUDE",
    "Origin": "LOCATION",
    "StationMagnitude": "MAGNITUDE",
    "Magnitude": "MAGNITUDE",
    "FocalMechanism": "FOCMECH",
    "Event": "EVENT",
}
"""scdispatch's routing table: the message group of each class (children inherit it)."""


class UsageError(Exception):
    """Input or options that cannot be used."""


def parse_routing_table(text: str) -> dict[str, str]:
    """``Pick:PICK,Origin:LOCATION`` to a routing table."""
    table = {}
    for item in text.split(","):
        name, colon, group = item.strip().partition(":")
        if not colon or not name or not group:
            raise UsageError(f"routing table entry {item!r} is not Class:GROUP")
        table[name] = group
    return table


def _walk(obj: Object, operation: str) -> Iterator[Object]:
    """The object and its descendants, parents first (add, update) or children first (remove)."""
    if operation != "remove":
        yield obj
    for _, child in obj.iter_children():
        yield from _walk(child, operation)
    if operation == "remove":
        yield obj


def notifiers(root: BaseObject, operation: str) -> list[Notifier]:
    """The notifiers ``-O operation`` makes of a document's root object (not sent itself)."""
    if operation not in OPERATIONS:
        raise UsageError(f"unknown operation {operation!r} (known: {', '.join(OPERATIONS)})")
    if not isinstance(root, PublicObject):
        raise UsageError(f"a {type(root).__name__} holds no objects to send")
    result = []
    for _, child in root.iter_children():
        for obj in _walk(child, operation):
            parent = obj.parent
            assert isinstance(parent, PublicObject)
            result.append(Notifier(parentID=parent.publicID, operation=operation, object=obj))
    return result


def route(obj: Object | None, table: Mapping[str, str]) -> str | None:
    """The group of ``obj``: its class's entry, else its nearest routed ancestor's."""
    while obj is not None:
        group = table.get(type(obj).__name__)
        if group is not None:
            return group
        obj = obj.parent
    return None


def plan(
    document: BaseObject, operation: str, table: Mapping[str, str], group: str | None = None
) -> list[tuple[str, NotifierMessage]]:
    """The messages to send for a decoded document: (group, one-notifier message) in order."""
    if isinstance(document, NotifierMessage):
        pending = list(document.attachments)
    else:
        pending = notifiers(document, operation)
    messages = []
    for notifier in pending:
        target = group or route(notifier.object, table)
        if target is None:
            what = type(notifier.object).__name__ if notifier.object is not None else "empty notifier"
            log.warning("no routing for %s under %s: not sent", what, notifier.parentID)
            continue
        messages.append((target, NotifierMessage(attachments=[notifier])))
    return messages


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scsend3", description="Send the objects of an sc3ml file as notifiers, like scdispatch."
    )
    parser.add_argument("-H", "--host", default="localhost", help="messaging address, default localhost")
    parser.add_argument("-u", "--user", default="", help="client name (default: chosen by the bus)")
    parser.add_argument("-i", "--input", required=True, help="sc3ml file, - for standard input")
    parser.add_argument("-O", "--operation", default="add", choices=OPERATIONS, help="notifier operation")
    parser.add_argument("-g", "--group", help="send every notifier to this group instead of routing by class")
    parser.add_argument("--routingtable", help="Class:GROUP,... replacing the default routing table")
    parser.add_argument("--encoding", default="binary", choices=sorted(ENCODINGS), help="payload encoding")
    parser.add_argument("-t", "--timeout", type=float, default=3.0, help="handshake timeout in seconds")
    parser.add_argument("--no-sync", action="store_true", help="do not wait for the master to process it all")
    parser.add_argument(
        "--sync-timeout", type=float, default=30.0, help="seconds to wait for the sync answer"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is going on")
    return parser


def _read(path: str) -> BaseObject:
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as stream:
                data = stream.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return xml.decode(data)
    except ArchiveError as exc:
        raise UsageError(f"{path} is not an sc3ml document: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Run ``scsend3``; returns the exit status (0 success, 1 failure)."""
    args = _arguments().parse_args(argv)
    configure_logging(args.verbose)
    try:
        table = parse_routing_table(args.routingtable) if args.routingtable else DEFAULT_ROUTING
        messages = plan(_read(args.input), args.operation, table, args.group)
    except UsageError as exc:
        return report_failure("scsend3", exc)
    connection = Connection(
        args.host, args.user, encoding=args.encoding, timeout=args.timeout, program_name="scsend3"
    )
    try:
        with connection:
            for group, message in messages:
                connection.send(message, group)
            if not args.no_sync:
                connection.sync(timeout=args.sync_timeout)
    except ClientError as exc:
        return report_failure("scsend3", exc)
    log.info("sent %d notifier messages", len(messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
