"""The client tests of ``test_client`` again, against the real Spread daemon.

Set ``SPREADBUS_REAL_DAEMON`` to a Spread 4 ``spread`` binary to run them; they are skipped
otherwise. One daemon serves the whole module: named ``localhost``, on an ephemeral port of
127.0.0.1 with its unix socket ``/tmp/<port>``, configured like the daemon that recorded the
golden traces. As root, Spread drops into its runtime directory; the configuration points
that at the temporary directory and keeps the current user.
"""

import contextlib
import grp
import inspect
import os
import pwd
import socket
import subprocess
import time

import pytest

import spreadbus as spread
from tests.spreadbus import test_client as shared
from tests.spreadbus.test_client import Bus, connect, names, pair  # noqa: F401 - fixtures

REAL_DAEMON = os.environ.get("SPREADBUS_REAL_DAEMON")
STARTUP = 30.0  # seconds for the daemon to listen and form its (one-daemon) ring

pytestmark = pytest.mark.skipif(
    not REAL_DAEMON, reason="SPREADBUS_REAL_DAEMON does not name a real Spread 4 'spread' binary"
)

CONFIG = """\
Spread_Segment 127.0.0.255:{port} {{
    localhost 127.0.0.1 {{
        D 127.0.0.1
        C 127.0.0.1
    }}
}}
EventPriority = WARNING
"""

# Every test of test_client that works through the ``bus`` fixture runs here as well.
_BUS_FIXTURES = {"bus", "connect", "names", "pair"}
for _name, _test in vars(shared).items():
    if _name.startswith("test_") and _BUS_FIXTURES & set(inspect.signature(_test).parameters):
        globals()[_name] = _test


def _free_port() -> int:
    """A port free for TCP and, with the next one, for UDP (Spread uses port and port + 1)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                for udp_port in (port, port + 1):
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                        udp.bind(("127.0.0.1", udp_port))
            except OSError:
                continue
            return port


def _configuration(port: int, runtime_dir: str) -> str:
    text = CONFIG.format(port=port)
    if os.geteuid() == 0:
        text += (
            f"DaemonUser = {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"DaemonGroup = {grp.getgrgid(os.getegid()).gr_name}\n"
            f"RuntimeDir = {runtime_dir}\n"
        )
    return text


def _wait_until_serving(port: int, process: subprocess.Popen, log_path: str) -> None:
    """Until a client can join a group and hear of it (the ring is formed)."""
    deadline = time.monotonic() + STARTUP
    while True:
        if process.poll() is not None:
            with open(log_path, errors="replace") as log:
                pytest.fail(f"spread exited with {process.returncode}: {log.read()}")
        try:
            probe = spread.connect(f"{port}@127.0.0.1", "probe", timeout=STARTUP)
            break
        except spread.error:
            if time.monotonic() > deadline:
                pytest.fail(f"spread does not accept clients on port {port}")
            time.sleep(0.05)
    with probe:
        probe.join("probe")
        assert probe.receive(timeout=STARTUP).reason == spread.CAUSED_BY_JOIN


@pytest.fixture(scope="module")
def real_spread(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("spread")
    port = _free_port()
    config = run_dir / "spread.conf"
    config.write_text(_configuration(port, str(run_dir)))
    log_path = str(run_dir / "spread.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [REAL_DAEMON, "-n", "localhost", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_serving(port, process, log_path)
        yield Bus(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Spread removes its unix socket at exit, except when it was chrooted away from /tmp.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/tmp/{port}")


@pytest.fixture
def bus(real_spread):
    return real_spread
