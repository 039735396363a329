"""``scadmin3``: the administration client of the master, like SeisComP3's ``scadmin``.

It connects as the admin client (name ``ADMIN``, primary group ADMIN_GROUP, client type and
priority 1, the ``--password`` in the CONNECT request), joins ADMIN_GROUP and runs the
requested commands in this order:

``-c`` lists the connected clients (LIST_CONNECTED_CLIENTS_CMD_MSG); ``-g`` prints the groups
the master offered in the handshake; ``-m GROUP`` joins the group and prints the member list
of its own join notice, then leaves; ``-d PRIVATE_GROUP`` orders that client to disconnect
(CLIENT_DISCONNECT_CMD_MSG, no answer awaited); ``-s TARGET`` asks a client (private group)
or every client of a group for a state-of-health report (STATE_OF_HEALTH_CMD_MSG) and prints
the answers that arrive within ``--wait`` seconds.

The printed text follows scadmin's, one ``Name: value`` line per fact; with ``-T/--table``
the client list and the state-of-health reports are aligned tables instead, one row per
client. Where scadmin waits forever (a refused command, a status nobody answers) scadmin3
gives up after ``--wait`` seconds and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

from scmaster3.client import AdminRejectedError, ClientError, Connection
from scmaster3.protocol import (
    ADMIN_GROUP,
    DEFAULT_ADMIN_CLIENT_NAME,
    ClientListEntry,
    ClientPriority,
    ClientStatus,
    ClientType,
    MembershipChange,
    MessageType,
    ServiceMessage,
    parse_client_list,
)
from scmaster3.tools.common import configure_logging, report_failure


class CommandFailed(Exception):
    """The master refused a command or did not answer in time."""


def format_client_list(entries: list[ClientListEntry], address: str, verbose: bool = False) -> list[str]:
    """The lines scadmin prints for ``-c`` (``-v`` adds type, priority, program and IPs)."""
    lines = [f"= Connected clients to master on {address} ="]
    for number, entry in enumerate(entries):
        if number:
            lines.append("==")
        lines.append(f"Client Name: {entry.private_group}")
        if verbose:
            lines += [
                f"Client Type: {entry.client_type}",
                f"Client Priority: {entry.client_priority}",
                f"Program name: {entry.program_name}",
                f"IP(s): {entry.ips}",
            ]
        lines += [f"Hostname: {entry.host_name}", f"Client Uptime: {entry.uptime}"]
    return lines


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two blanks apart under a dashed header line."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def _short(name: str) -> str:
    """``CLIENT_TYPE_ONE`` -> ``ONE``: the table's column header already says what it is."""
    return name.rpartition("_")[2] if name.startswith(("CLIENT_TYPE_", "CLIENT_PRIORITY_")) else name


def client_table(entries: list[ClientListEntry], address: str) -> list[str]:
    """The ``-c -T`` lines: the client list as a table."""
    rows = [
        (
            entry.private_group,
            _short(entry.client_type),
            _short(entry.client_priority),
            entry.program_name,
            entry.host_name,
            entry.ips.strip(),
            entry.uptime,
        )
        for entry in entries
    ]
    header = "Client Type Priority Program Host IPs Uptime".split()
    return [f"= Connected clients to master on {address} =", *format_table(header, rows)]


def status_table(reports: list[ClientStatus]) -> list[str]:
    """The ``-s -T`` lines: one row per state-of-health report."""
    rows = [
        (
            status.private_group,
            status.host_name,
            status.program_name,
            status.pid,
            status.cpu_usage,
            f"{status.memory_usage_percent()}",
            status.sent_messages,
            status.received_messages,
            str(status.average_message_queue_size()),
            str(status.average_message_size()),
            status.uptime,
        )
        for status in reports
    ]
    header = "Client Host Program PID CPU% Mem% Sent Received AvgQueue AvgSize Uptime".split()
    return format_table(header, rows)


def format_status(status: ClientStatus) -> list[str]:
    """The lines printed for one state-of-health report."""
    return [
        f"Client Name: {status.client_name}",
        f"Private group: {status.private_group}",
        f"Hostname: {status.host_name}",
        f"IP(s): {status.ips}",
        f"Program name: {status.program_name}",
        f"PID: {status.pid}",
        f"CPU usage: {status.cpu_usage}",
        f"Memory usage: {status.memory_usage_percent()}% ({status.client_memory_usage} of {status.total_memory} kB)",
        f"Sent messages: {status.sent_messages}",
        f"Received messages: {status.received_messages}",
        f"Average message queue size: {status.average_message_queue_size()}",
        f"Average message size: {status.average_message_size()}",
        f"Object count: {status.object_count}",
        f"Client Uptime: {status.uptime}",
    ]


class Admin:
    """The commands of scadmin over one admin connection; output goes to ``out``."""

    def __init__(
        self,
        connection: Connection,
        address: str,
        out: TextIO,
        wait: float,
        verbose: bool = False,
        table: bool = False,
    ) -> None:
        self.connection = connection
        self.address = address
        self.out = out
        self.wait = wait
        self.verbose = verbose
        self.table = table

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    def _answers(self, kinds: set[int], seconds: float) -> Iterator[ServiceMessage]:
        """Received service messages of ``kinds`` until ``seconds`` have passed.

        A REJECTED_CMD_MSG raises CommandFailed; other messages are skipped.
        """
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.connection.receive(remaining)
            if message is None:
                return
            if message.type == MessageType.REJECTED_CMD_MSG:
                raise CommandFailed("the master refused the command")
            if isinstance(message, ServiceMessage) and message.type in kinds:
                yield message

    def list_clients(self) -> None:
        self.connection.send_command(MessageType.LIST_CONNECTED_CLIENTS_CMD_MSG)
        for reply in self._answers({MessageType.LIST_CONNECTED_CLIENTS_RESPONSE_MSG}, self.wait):
            entries = parse_client_list(reply.text)
            if self.table:
                self.say(*client_table(entries, self.address))
            else:
                self.say(*format_client_list(entries, self.address, self.verbose))
            return
        raise CommandFailed(f"no client list within {self.wait} s")

    def list_groups(self) -> None:
        self.say(f"= Available groups on {self.address} =", *self.connection.groups)

    def list_members(self, group: str) -> None:
        self.connection.subscribe(group)
        me = self.connection.private_group
        try:
            for notice in self._answers({MessageType.JOIN_GROUP_MSG}, self.wait):
                change = MembershipChange.parse(notice.text)
                if change.group == group and change.member == me:
                    self.say(f"= Members of group {group} =", *change.members)
                    return
            raise CommandFailed(f"no membership notice for {group} within {self.wait} s")
        finally:
            self.connection.unsubscribe(group)

    def disconnect_client(self, private_group: str) -> None:
        self.say(f"Disconnecting client: {private_group}")
        self.connection.send_command(MessageType.CLIENT_DISCONNECT_CMD_MSG, private_group)
        self.say("Done")

    def status(self, target: str) -> None:
        self.say(f"= Status for client: {target} =")
        self.connection.send_command(MessageType.STATE_OF_HEALTH_CMD_MSG, target)
        reports: list[ClientStatus] = []
        for report in self._answers({MessageType.STATE_OF_HEALTH_RESPONSE_MSG}, self.wait):
            status = ClientStatus.parse(report.text)
            if not self.table:
                self.say(*(["=="] if reports else []), *format_status(status))
            reports.append(status)
            if target.startswith("#"):
                break  # one client: no other report is coming
        if not reports:
            raise CommandFailed(f"no state-of-health report within {self.wait} s")
        if self.table:
            self.say(*status_table(reports))


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scadmin3", description="Administrate a SeisComP3 master.")
    parser.add_argument("-H", "--serveraddress", required=True, help="messaging address host[:port]")
    parser.add_argument("--password", default="", help="admin password")
    parser.add_argument("-c", "--connectedclients", action="store_true", help="list the connected clients")
    parser.add_argument("-g", "--availablegroups", action="store_true", help="list the available groups")
    parser.add_argument("-m", "--groupmembers", metavar="GROUP", help="list the members of a group")
    parser.add_argument(
        "-d", "--disconnect", metavar="PRIVATE_GROUP", help="disconnect a client (#name#daemon)"
    )
    parser.add_argument("-s", "--status", metavar="TARGET", help="state of health of a client or a group")
    parser.add_argument("-v", "--verbose", action="store_true", help="more details and log lines on stderr")
    parser.add_argument(
        "-T",
        "--table",
        action="store_true",
        help="client list and status reports as tables, one row per client",
    )
    parser.add_argument("-t", "--timeout", type=float, default=3.0, help="handshake timeout in seconds")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for an answer, default 10")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``scadmin3``; returns the exit status (0 success, 1 failure)."""
    args = _arguments().parse_args(argv)
    configure_logging(args.verbose)
    connection = Connection(
        args.serveraddress,
        DEFAULT_ADMIN_CLIENT_NAME,
        ADMIN_GROUP,
        client_type=ClientType.TYPE_ONE,
        client_priority=ClientPriority.PRIORITY_HIGH,
        password=args.password,
        timeout=args.timeout,
        program_name="scadmin",
        status_interval=None,
    )
    admin = Admin(connection, args.serveraddress, sys.stdout, args.wait, args.verbose, args.table)
    try:
        connection.connect()
        connection.subscribe(ADMIN_GROUP)
        admin.say(f"Successfully connected to address: {args.serveraddress}")
        if args.connectedclients:
            admin.list_clients()
        if args.availablegroups:
            admin.list_groups()
        if args.groupmembers:
            admin.list_members(args.groupmembers)
        if args.disconnect:
            admin.disconnect_client(args.disconnect)
        if args.status:
            admin.status(args.status)
    except AdminRejectedError:
        return report_failure(
            "scadmin3", "the master refused the admin connection (wrong password or admin name)"
        )
    except (ClientError, CommandFailed) as exc:
        return report_failure("scadmin3", exc)
    finally:
        connection.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
