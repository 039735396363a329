"""The scmaster command line (see :data:`USAGE`), parsed without side effects.

Unknown options are ignored, as scmaster does. Values follow their option as the next
argument or attached to it (``--host=h:1``, ``-Hh:1``); short flags can be grouped (``-vv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scmaster3.config.errors import ConfigError
from scmaster3.protocol.errors import ProtocolError
from scmaster3.protocol.names import spread_daemon_address

DEFAULT_HOST = "localhost:4803"
DEFAULT_VERBOSITY = 2

USAGE = """\
  -h, --help                 print the options and exit
  --verbosity <n>            log level, default 2 (1 error, 2 +warning, 3 +info, 4 +debug)
  -v, --add-verbosity        one more log level per occurrence
  --debug                    log everything to the console instead of the log file
  -D, --daemon               detach (ignored together with --debug)
  -s, --syslog               log to syslog instead of ~/.seiscomp3/log/scmaster.log
  -l, --lockfile <path>      exclusive lock and PID file
  -H, --host <host[:port]>   Spread daemon, default localhost:4803
  --config-file <path>       read only this configuration file
"""

_FLAGS = {
    "-h": "help",
    "--help": "help",
    "-v": "add_verbosity",
    "--add-verbosity": "add_verbosity",
    "--debug": "debug",
    "-D": "daemon",
    "--daemon": "daemon",
    "-s": "syslog",
    "--syslog": "syslog",
}
_VALUED = {
    "--verbosity": "verbosity",
    "-l": "lockfile",
    "--lockfile": "lockfile",
    "-H": "host",
    "--host": "host",
    "--config-file": "config_file",
}


@dataclass(frozen=True)
class CommandLine:
    """The options scmaster was started with.

    ``spread_address`` is the Spread daemon name (``port@host``) made from ``host``;
    ``log_level`` is ``verbosity`` plus one per ``-v``; ``detach`` is ``--daemon`` unless
    ``--debug`` is given too.
    """

    help: bool = False
    verbosity: int = DEFAULT_VERBOSITY
    add_verbosity: int = 0
    debug: bool = False
    daemon: bool = False
    syslog: bool = False
    lockfile: str | None = None
    host: str = DEFAULT_HOST
    spread_address: str = "4803@localhost"
    config_file: str | None = None

    @property
    def log_level(self) -> int:
        """The effective log level: ``verbosity`` plus one per ``-v``."""
        return self.verbosity + self.add_verbosity

    @property
    def detach(self) -> bool:
        """Whether to run as a daemon: ``--daemon`` without ``--debug``."""
        return self.daemon and not self.debug


def parse_command_line(arguments: Sequence[str]) -> CommandLine:
    """The options in ``arguments`` (without the program name).

    ConfigError (key = the option) for a missing value, a ``--verbosity`` that is not an
    integer, or a ``--host`` that is not ``host[:port]`` (scmaster then exits with 1).
    """
    flags: dict[str, int] = {}
    values: dict[str, str] = {}
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        position += 1
        if argument.startswith("--"):
            option, equals, attached = argument.partition("=")
            value = attached if equals else None
        elif argument.startswith("-") and len(argument) > 1:
            option, value = argument[:2], argument[2:] or None
            if option not in _VALUED and all(f"-{letter}" in _FLAGS for letter in argument[1:]):
                # Grouped short flags: -vv, -Dv.
                for letter in argument[1:]:
                    name = _FLAGS[f"-{letter}"]
                    flags[name] = flags.get(name, 0) + 1
                continue
        else:
            continue
        if option in _FLAGS and value is None:
            flags[_FLAGS[option]] = flags.get(_FLAGS[option], 0) + 1
        elif option in _VALUED:
            if value is None:
                if position >= len(arguments):
                    raise ConfigError("needs a value", key=option)
                value = arguments[position]
                position += 1
            values[_VALUED[option]] = value
    verbosity = values.get("verbosity", str(DEFAULT_VERBOSITY))
    try:
        level = int(verbosity)
    except ValueError:
        raise ConfigError(f"{verbosity!r} is not an integer", key="--verbosity") from None
    host = values.get("host", DEFAULT_HOST)
    try:
        address = spread_daemon_address(host, allow_spread_form=False)
    except ProtocolError as exc:
        raise ConfigError(exc.reason, key="--host") from None
    return CommandLine(
        help="help" in flags,
        verbosity=level,
        add_verbosity=flags.get("add_verbosity", 0),
        debug="debug" in flags,
        daemon="daemon" in flags,
        syslog="syslog" in flags,
        lockfile=values.get("lockfile"),
        host=host,
        spread_address=address,
        config_file=values.get("config_file"),
    )
