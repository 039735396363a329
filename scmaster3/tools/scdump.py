"""``scdump3``: connect, subscribe to groups and print what arrives.

One line per message: sequence number, the master's time stamp, type, original sender,
destination and payload size. Below it, indented, what the payload holds: one line per
notifier (operation, class, publicID or index, parent) for notifier messages, the class and
attributes of other messages, or the whole message as sc3ml with ``--xml``. With
``--service`` the service messages a client receives (joins, leaves, disconnects,
state-of-health reports) are printed too, with their text.

The program ends after ``-n`` messages, after ``--timeout`` seconds without a message, on
Ctrl-C, or when an administrator disconnects it (exit status 0); a lost connection ends it
with status 1.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import sys
from typing import TextIO

from scmaster3.client import ClientError, Connection, ForcedDisconnectError
from scmaster3.datamodel import BaseObject, NotifierMessage, PublicObject
from scmaster3.io import ArchiveError, xml
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import LISTENER_GROUP, Message, NetworkMessage, type_name
from scmaster3.tools.common import configure_logging, report_failure

log = logging.getLogger("scdump3")


def _stamp(seconds: int) -> str:
    if not seconds:
        return "-"
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def headline(message: Message) -> str:
    """The one line that introduces a received message."""
    return (
        f"seq={message.seq_num} time={_stamp(message.timestamp)} type={type_name(message.type)}"
        f" from={message.private_sender_group or '-'} to={message.destination or '-'} size={len(message.data)}"
    )


def _identity(obj: BaseObject | None) -> str:
    if obj is None:
        return "(no object)"
    if isinstance(obj, PublicObject):
        return f"{type(obj).__name__} {obj.publicID}"
    key = ",".join(str(value) for value in obj.index_key())
    return f"{type(obj).__name__} [{key}]" if key else type(obj).__name__


def describe(payload: BaseObject) -> list[str]:
    """What a decoded payload holds, one line per notifier or one line for other messages."""
    if isinstance(payload, NotifierMessage):
        return [
            f"{notifier.operation.value} {_identity(notifier.object)} parent={notifier.parentID}"
            for notifier in payload.attachments
        ]
    attributes = " ".join(
        f"{spec.attr}={getattr(payload, spec.attr)!r}"
        for spec in type(payload).SPEC.attributes
        if spec.category != "sequence"
    )
    return [f"{type(payload).SPEC.rtti_name} {attributes}".rstrip()]


def render(message: Message, as_xml: bool = False) -> str:
    """The text printed for one message."""
    lines = [headline(message)]
    if isinstance(message, NetworkMessage):
        try:
            payload = decode_payload(message.data, message.content_type)
        except ArchiveError as exc:
            lines.append(f"  (payload not decoded: {exc})")
        else:
            if as_xml:
                lines.append(xml.encode(payload, formatted=True).decode("utf-8").rstrip("\n"))
            else:
                lines.extend(f"  {line}" for line in describe(payload))
    elif message.data:
        lines.append(f"  {message.text}")
    return "\n".join(lines)


def dump(
    connection: Connection,
    out: TextIO,
    *,
    count: int | None = None,
    timeout: float | None = None,
    service: bool = False,
    as_xml: bool = False,
) -> int:
    """Print received messages until ``count`` were printed or ``timeout`` passed idle."""
    printed = 0
    while count is None or printed < count:
        message = connection.receive(timeout)
        if message is None:
            break
        if not service and not isinstance(message, NetworkMessage):
            continue
        print(render(message, as_xml), file=out, flush=True)
        printed += 1
    return printed


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scdump3", description="Print the messages of SeisComP3 groups.")
    parser.add_argument("-H", "--host", default="localhost", help="messaging address, default localhost")
    parser.add_argument("-u", "--user", default="", help="client name (default: chosen by the bus)")
    parser.add_argument(
        "-S",
        "--subscribe-group",
        action="append",
        dest="groups",
        help="group to listen to (repeatable); default *",
    )
    parser.add_argument(
        "-g", "--primary-group", default=LISTENER_GROUP, help="primary group, default LISTENER_GROUP"
    )
    parser.add_argument("-n", "--count", type=int, help="stop after this many messages")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds without a message")
    parser.add_argument("--xml", action="store_true", help="print payloads as sc3ml")
    parser.add_argument("--service", action="store_true", help="print service messages too")
    parser.add_argument(
        "-t", "--connect-timeout", type=float, default=3.0, help="handshake timeout in seconds"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is going on")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``scdump3``; returns the exit status."""
    args = _arguments().parse_args(argv)
    configure_logging(args.verbose)
    connection = Connection(
        args.host,
        args.user,
        args.primary_group,
        subscriptions=args.groups or ["*"],
        timeout=args.connect_timeout,
        program_name="scdump3",
    )
    try:
        connection.connect()
        log.info("listening to %s", ", ".join(connection.subscriptions))
        dump(
            connection,
            sys.stdout,
            count=args.count,
            timeout=args.timeout,
            service=args.service,
            as_xml=args.xml,
        )
    except ForcedDisconnectError:
        return 0
    except ClientError as exc:
        return report_failure("scdump3", exc)
    except KeyboardInterrupt:
        pass
    finally:
        connection.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
