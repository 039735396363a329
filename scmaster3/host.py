"""Facts about this host and process that state-of-health reports carry, for clients and the mediator."""

from __future__ import annotations

import socket
import time


def host_addresses(host: str) -> str:
    """The IPv4 addresses of ``host``, each followed by a space, as SeisComP3 lists them."""
    try:
        addresses = socket.gethostbyname_ex(host)[2]
    except OSError:
        addresses = []
    return "".join(f"{address} " for address in addresses)


def _proc_kilobytes(path: str, key: str) -> int:
    """A ``<key>: <n> kB`` value of a /proc file, 0 where there is no /proc."""
    try:
        with open(path, encoding="ascii") as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def total_memory_kb() -> int:
    return _proc_kilobytes("/proc/meminfo", "MemTotal")


def resident_memory_kb() -> int:
    return _proc_kilobytes("/proc/self/status", "VmRSS")


class CpuMeter:
    """CPU use of this process in percent of one core, between two readings."""

    def __init__(self) -> None:
        self._mark = (time.process_time(), time.monotonic())

    def percent(self) -> int:
        """The use since the previous reading (or since creation)."""
        cpu, wall = time.process_time(), time.monotonic()
        used, elapsed = cpu - self._mark[0], wall - self._mark[1]
        self._mark = (cpu, wall)
        return int(used / elapsed * 100) if elapsed > 0 else 0
