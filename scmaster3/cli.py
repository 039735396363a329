"""``scmaster3``: the SeisComP3 messaging mediator, with its bus, as one command.

Without ``-H`` it starts the bus daemon (``spreadbus.daemon.SpreadDaemon``, named
``localhost``) in the same process on ``--bind`` (default 127.0.0.1:4803, plus the unix
socket ``/tmp/<port>``) and the mediator on it: the messaging of a single-machine SeisComP3
installation. With ``-H host[:port]`` it is only the mediator, a client of that (real Spread
or spreadbusd) daemon, like SeisComP3's ``scmaster``.

The configuration is read as scmaster reads it (``scmaster3.config``: ``scmaster.cfg`` in
the SeisComP load order, or only ``--config-file``). A mistake in one file of the load order
is logged with file, line and key, and the mediator runs with what was read, as scmaster
does; a mistake in ``--config-file``, an unusable parameter or a plugin that cannot be
loaded stops the start-up with exit status 1 (scmaster exits with 0 there, which hides the
failure). Exit status 1 also when the bus cannot be reached at start-up or the lock file is
held; 0 after an orderly stop (SIGTERM, SIGINT). Unknown options are ignored, as scmaster
ignores them.

Logging follows SeisComP's options: ``--verbosity`` 0 (nothing) to 4 (debug), ``-v`` one level
more each, ``-q`` nothing; to ``~/.seiscomp3/log/scmaster.log`` (or ``--log-file``), to syslog
with ``-s``, to standard error with ``--console``. ``--debug`` is verbosity 4 on the console,
``--trace`` that and the bus's own lines, with components printed. A log line names its
component (the logger: ``scmaster3.master``, ``scmaster3.bus``, ``spreadbus.daemon``,
``dbplugin``, ...) unless ``--print-component 0``; by default it does in files and syslog
and not on the console, as SeisComP does. ``--component NAME`` keeps only the lines of that
component: a logger name, a dotted prefix of one (``scmaster3``) or its last part (``bus``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from scmaster3.bus_frontend import BusFrontend
from scmaster3.config import ConfigError, ConfigLayout, ScmasterSettings, load_module_config
from scmaster3.master import SERVER_VERSION, Master
from scmaster3.plugins import PluginError, load_plugins
from scmaster3.protocol import DEFAULT_SPREAD_PORT, ProtocolError, spread_daemon_address
from spreadbus.aio import BusError

log = logging.getLogger("scmaster3")

MODULE = "scmaster"
DEFAULT_BIND = f"127.0.0.1:{DEFAULT_SPREAD_PORT}"
SYSLOG_SOCKET = "/dev/log"
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


def _version() -> str:
    try:
        from importlib.metadata import version

        own = version("scmaster3")
    except Exception:
        own = "unknown"
    return f"scmaster3 {own}\nFramework: {SERVER_VERSION} (SeisComP3 messaging, schema 0.11)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scmaster3",
        add_help=False,
        description="SeisComP3 messaging mediator (scmaster) with a Spread-compatible bus.",
    )
    generic = parser.add_argument_group("Generic")
    generic.add_argument("-h", "--help", action="store_true", help="print this help and exit")
    generic.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    generic.add_argument("--config-file", metavar="PATH", help="read only this configuration file")
    generic.add_argument(
        "--plugins", metavar="LIST", help="mediator plugins to load (comma separated), instead of 'plugins'"
    )
    generic.add_argument(
        "-D", "--daemon", action="store_true", help="detach (ignored together with --debug or --trace)"
    )
    generic.add_argument(
        "-l", "--lockfile", metavar="PATH", help="exclusive lock and PID file; held elsewhere -> exit 1"
    )
    verbose = parser.add_argument_group("Verbosity")
    verbose.add_argument(
        "--verbosity",
        type=int,
        default=2,
        metavar="N",
        help="0 nothing, 1 error, 2 +warning (default), 3 +info, 4 +debug",
    )
    verbose.add_argument(
        "-v", "--add-verbosity", action="count", default=0, help="one more log level per occurrence"
    )
    verbose.add_argument("-q", "--quiet", action="store_true", help="log nothing")
    verbose.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME",
        help="log only this component: a logger name, its prefix or last part (repeatable)",
    )
    verbose.add_argument("-s", "--syslog", action="store_true", help="log to syslog")
    verbose.add_argument(
        "--console", nargs="?", const="1", default="0", metavar="0|1", help="log to the console (stderr)"
    )
    verbose.add_argument("--debug", action="store_true", help="debug level, logged to the console")
    verbose.add_argument(
        "--log-file", metavar="PATH", help="log to this file instead of ~/.seiscomp3/log/scmaster.log"
    )
    verbose.add_argument(
        "--print-component",
        nargs="?",
        const="1",
        metavar="0|1",
        help="print the component of each log line (default: in files and syslog, not on the console)",
    )
    verbose.add_argument(
        "--trace", action="store_true", help="like --debug, with the bus's own lines and the components"
    )
    bus = parser.add_argument_group("Messaging")
    bus.add_argument(
        "-H",
        "--host",
        metavar="HOST[:PORT]",
        help="use this external Spread daemon instead of the in-process bus",
    )
    bus.add_argument(
        "--bind",
        metavar="[IP:]PORT",
        help=f"where the in-process bus listens (default {DEFAULT_BIND})",
    )
    bus.add_argument(
        "--sbind",
        metavar="[IP:]PORT",
        help="a second address of the in-process bus (SeisComP's secure interface; plain here)",
    )
    return parser


def parse_bind(text: str, option: str) -> tuple[str, int]:
    """``[ip:]port`` -> (ip, port); ip defaults to 127.0.0.1."""
    host, colon, port = text.rpartition(":")
    if not colon:
        host = "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{text!r} is not [ip:]port", key=option)
    return host or "0.0.0.0", int(port)


def _host_address(text: str) -> str:
    """``-H host[:port]`` as the Spread daemon name ``port@host`` (the ``@`` form is refused)."""
    try:
        return spread_daemon_address(text, allow_spread_form=False)
    except ProtocolError as exc:
        raise ConfigError(exc.reason, key="--host") from None


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


class ComponentFilter(logging.Filter):
    """Lets through the lines of the named components (``--component``)."""

    def __init__(self, components: Sequence[str]) -> None:
        super().__init__()
        self.components = frozenset(components)
        self.prefixes = tuple(f"{name}." for name in components)

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return (
            name in self.components
            or name.startswith(self.prefixes)
            or name.rpartition(".")[2] in self.components
        )


def setup_logging(args: argparse.Namespace, layout: ConfigLayout) -> None:
    """Replace the root logger's handlers by the one the logging options ask for."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    verbosity = 4 if args.debug or args.trace else min(args.verbosity + args.add_verbosity, 4)
    if args.quiet or verbosity <= 0:
        root.addHandler(logging.NullHandler())
        return
    level = _LEVELS[verbosity]
    console = args.debug or args.trace or _truthy(args.console)
    syslog = args.syslog and not console
    if syslog and not os.path.exists(SYSLOG_SOCKET):
        print(f"scmaster3: no syslog at {SYSLOG_SOCKET}; logging to the console", file=sys.stderr)
        syslog, console = False, True
    if args.trace:
        print_component = True
    elif args.print_component is not None:
        print_component = _truthy(args.print_component)
    else:
        print_component = not console
    component = "[%(name)s] " if print_component else ""
    handler: logging.Handler
    if syslog:
        handler = logging.handlers.SysLogHandler(address=SYSLOG_SOCKET)
        handler.setFormatter(logging.Formatter(f"scmaster3[{os.getpid()}]: {component}%(message)s"))
    elif console:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s [%(levelname)s] {component}%(message)s"))
    else:
        path = Path(args.log_file) if args.log_file else layout.log_dir / f"{MODULE}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(path)
        handler.setFormatter(logging.Formatter(f"%(asctime)s [%(levelname)s] {component}%(message)s"))
    if args.component:
        handler.addFilter(ComponentFilter(args.component))
    root.addHandler(handler)
    root.setLevel(level)
    # The bus logs every session's comings and goings at debug level: noise unless tracing.
    logging.getLogger("spreadbus").setLevel(logging.NOTSET if args.trace else max(level, logging.INFO))


def _lock(path: Path) -> int:
    """Take the lock file; exit 1 if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        print(f"scmaster3: {path} is locked by another process", file=sys.stderr)
        raise SystemExit(1) from None
    return fd


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())


def _detach() -> None:
    """Become a daemon: two forks, a new session, standard streams on /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


async def serve(
    master: Master,
    *,
    host: str | None,
    bind: tuple[str, int],
    sbind: tuple[str, int] | None = None,
    unix_dir: str | None = "/tmp",
    stop: asyncio.Event | None = None,
) -> None:
    """Run the bus (unless ``host`` names an external one) and the mediator until ``stop`` is set."""
    stop = stop or asyncio.Event()
    daemon = None
    forwarder = None
    frontend = None
    address = host
    if host is None:
        from spreadbus.daemon import SpreadDaemon

        daemon = SpreadDaemon(name="localhost", port=bind[1], hosts=[bind[0]], unix_dir=unix_dir)
        await daemon.start()
    try:
        if daemon is not None:
            local = "127.0.0.1" if bind[0] in ("0.0.0.0", "") else bind[0]
            # The mediator's own way in: the unix socket when there is one (cheaper than TCP).
            address = daemon.unix_path or f"{daemon.port}@{local}"
            if sbind is not None:
                forwarder = await _forward(sbind, (local, daemon.port))
        assert address is not None
        frontend = BusFrontend(master, address)
        await frontend.start()
        await stop.wait()
    finally:
        sessions = daemon.session_count if daemon is not None else 0
        if frontend is not None:
            await frontend.stop()
        if forwarder is not None:
            forwarder.close()
        if daemon is not None:
            # Let the bus deliver MASTER_DISCONNECTED_MSG before it closes every session.
            for _ in range(100):
                if daemon.session_count < sessions:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            await daemon.stop()


async def _forward(listen: tuple[str, int], target: tuple[str, int]) -> asyncio.Server:
    """A second listening address of the in-process bus: connections are spliced to the first."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(splice, listen[0], listen[1])
    log.info("in-process bus also reachable on %s:%d", *listen)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.help:
        parser.print_help()
        return 0
    if args.version:
        print(_version())
        return 0
    layout = ConfigLayout.from_environment()
    try:
        host = _host_address(args.host) if args.host is not None else None
        bind = parse_bind(args.bind or DEFAULT_BIND, "--bind")
        sbind = parse_bind(args.sbind, "--sbind") if args.sbind else None
        loaded = load_module_config(MODULE, layout, config_file=args.config_file)
    except ConfigError as exc:
        print(f"scmaster3: {exc}", file=sys.stderr)
        return 1
    # A daemon works in /: paths given relative to where it was started are resolved first.
    lock_path = Path(os.path.abspath(args.lockfile)) if args.lockfile else None
    if args.log_file:
        args.log_file = os.path.abspath(args.log_file)
    if args.daemon and not (args.debug or args.trace):
        if lock_path is not None:
            os.close(_lock(lock_path))  # a held lock is reported here, before detaching
        _detach()
    lock_fd = None
    if lock_path is not None:
        lock_fd = _lock(lock_path)
        _write_pid(lock_fd)
    setup_logging(args, layout)
    if unknown:
        log.warning("ignoring unknown options: %s", " ".join(unknown))
    if host is not None and (args.bind or args.sbind):
        log.warning("--bind and --sbind place the in-process bus; with -H there is none: ignored")
    if loaded.error is not None:
        log.error("configuration: %s (later files not read)", loaded.error)
    try:
        settings = ScmasterSettings.from_config(loaded.config)
        names = (
            [n for n in args.plugins.split(",") if n.strip()]
            if args.plugins is not None
            else settings.plugins
        )
        plugins = load_plugins([n.strip() for n in names], loaded.config)
    except (ConfigError, PluginError) as exc:
        log.error("%s", exc)
        print(f"scmaster3: {exc}", file=sys.stderr)
        return 1
    master = Master(settings, plugins)
    try:
        return asyncio.run(_run(master, host, bind, sbind))
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


async def _run(master: Master, host: str | None, bind: tuple[str, int], sbind: tuple[str, int] | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve(master, host=host, bind=bind, sbind=sbind, stop=stop)
    except (BusError, OSError) as exc:
        log.error("cannot start: %s", exc)
        print(f"scmaster3: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
