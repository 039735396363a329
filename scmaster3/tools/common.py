"""What the command-line clients (scadmin3, scsend3, scdump3) share: log lines and failures.

Their standard output is the tool's answer (a client list, received messages), so log lines
go to standard error, and a failure is one line there too, ``<program>: <reason>``.
"""

from __future__ import annotations

import logging
import sys


def configure_logging(verbose: bool) -> None:
    """Log to standard error: warnings and errors, and with ``verbose`` the client library's
    progress too (connecting, joining groups), as SeisComP3 modules log it."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s [%(levelname)s/%(name)s] %(message)s",
        datefmt="%H:%M:%S",
    )


def report_failure(program: str, error: BaseException | str) -> int:
    """Say on standard error why ``program`` failed; returns its exit status, 1."""
    print(f"{program}: {error}", file=sys.stderr)
    return 1
