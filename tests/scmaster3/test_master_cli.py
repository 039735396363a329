"""The ``scmaster3`` command as a process: in-process bus, external bus, options, failures."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from scmaster3.datamodel import DatabaseProvideMessage
from scmaster3.io.payload import decode_payload
from scmaster3.protocol import MessageType
from tests.scmaster3.test_mediator_e2e import OK_DATA_11, Module, start_bus

COMMAND = [sys.executable, "-m", "scmaster3.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def environment(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), SEISCOMP_ROOT=str(tmp_path / "root"))
    env.pop("SEISCOMP_LOCAL_CONFIG", None)
    return env


def run(args, env, timeout=30):
    return subprocess.run(COMMAND + args, env=env, capture_output=True, text=True, timeout=timeout)


def start(args, env) -> subprocess.Popen:
    return subprocess.Popen(
        COMMAND + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_admitted(port: int, name: str, process: subprocess.Popen | None) -> Module:
    """A module admitted by the mediator (which may still be starting)."""
    deadline = time.monotonic() + 20
    while True:
        assert process is None or process.poll() is None, process.stdout.read()
        try:
            module = Module(port, name)
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.1)
            continue
        try:
            module.handshake("PICK", timeout=0.5)
            return module
        except TimeoutError:
            module.close()
            assert time.monotonic() < deadline


def test_without_host_it_runs_the_bus_too(environment, tmp_path):
    port = free_port()
    config = tmp_path / "scmaster.cfg"
    config.write_text("msgGroups = PICK, AMPLITUDE\nadmin.password = pw\n")
    process = start(["--bind", f"127.0.0.1:{port}", "--console", "--config-file", str(config)], environment)
    try:
        module = wait_admitted(port, "cli", process)
        module.mbox.join("PICK")
        module.receive_membership("PICK")
        other = Module(port, "other")
        _, ok = other.handshake("PICK")
        assert ok.text == "Server-Version: Jakarta git-\nGroups: AMPLITUDE,PICK\nSchema-Version: 0.11"
        other.send("PICK", b"hello")
        assert module.next()[1].data == b"hello"
        process.send_signal(signal.SIGTERM)
        _, gone = module.receive(lambda m, b: b.type < 0)
        assert gone.type == MessageType.MASTER_DISCONNECTED_MSG
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_with_host_it_is_a_client_of_that_bus(environment, tmp_path_factory):
    bus = start_bus(tmp_path_factory)
    process = start(
        ["-H", f"127.0.0.1:{bus.port}", "--debug", "--config-file", os.devnull, "--bind", "127.0.0.1:1"],
        environment,
    )
    try:
        module = wait_admitted(bus.port, "viahost", process)
        module.connect_request("PICK")
        _, ok = module.receive(lambda m, b: b.destination == module.private_group)
        assert ok.text == OK_DATA_11.replace(
            "AMPLITUDE,CONFIG,EVENT,FOCMECH,GUI,INVENTORY,LOCATION,LOGGING,MAGNITUDE,PICK,PUBLICATION,QC,ROUTING,",
            "AMPLITUDE,CONFIG,EVENT,GUI,INVENTORY,LOCATION,LOGGING,MAGNITUDE,PICK,PUBLICATION,QC,",
        )  # an empty file: the code's own default groups
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        output = process.stdout.read()
        assert "connected to the bus" in output
        assert "--bind and --sbind place the in-process bus; with -H there is none: ignored" in output
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        bus.stop()


def test_bus_not_there_exits_1(environment):
    result = run(["-H", f"127.0.0.1:{free_port()}", "--console", "--config-file", os.devnull], environment)
    assert result.returncode == 1
    assert "cannot connect" in result.stderr


def test_bad_configuration_file_names_file_line_and_key(environment, tmp_path):
    config = tmp_path / "broken.cfg"
    config.write_text("msgGroups = PICK\nschemaVersionOverride = 0.99\n")
    result = run(
        ["--console", "--config-file", str(config), "--bind", f"127.0.0.1:{free_port()}"], environment
    )
    assert result.returncode == 1
    assert f"{config}:2: schemaVersionOverride" in result.stderr


def test_unknown_plugin_stops_the_start(environment):
    result = run(
        [
            "--console",
            "--config-file",
            os.devnull,
            "--plugins",
            "nosuchplugin",
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        environment,
    )
    assert result.returncode == 1
    assert "nosuchplugin" in result.stderr


def test_help_version_and_bad_host(environment):
    help_text = run(["-h"], environment)
    assert help_text.returncode == 0
    for option in (
        "-h, --help",
        "-V, --version",
        "--config-file",
        "--plugins",
        "-D, --daemon",
        "--verbosity",
        "-v, --add-verbosity",
        "-q, --quiet",
        "--component",
        "-s, --syslog",
        "-l PATH, --lockfile",
        "--console",
        "--debug",
        "--log-file",
        "--print-component",
        "--trace",
        "-H HOST[:PORT], --host",
        "--bind",
        "--sbind",
    ):
        assert option in help_text.stdout
    version = run(["-V"], environment)
    assert version.returncode == 0 and "Jakarta" in version.stdout
    bad = run(["-H", "4803@localhost"], environment)
    assert bad.returncode == 1 and "--host" in bad.stderr


def test_held_lock_file_exits_1(environment, tmp_path):
    lock = tmp_path / "scmaster.pid"
    port = free_port()
    first = start(
        ["--bind", f"127.0.0.1:{port}", "--console", "--config-file", os.devnull, "-l", str(lock)],
        environment,
    )
    try:
        wait_admitted(port, "locker", first).close()
        assert lock.read_text().strip() == str(first.pid)
        second = run(["--console", "--config-file", os.devnull, "-l", str(lock)], environment)
        assert second.returncode == 1 and "locked" in second.stderr
    finally:
        first.terminate()
        first.wait(20)


def test_sbind_is_a_second_address_of_the_bus(environment):
    port, second = free_port(), free_port()
    process = start(
        [
            "--bind",
            f"127.0.0.1:{port}",
            "--sbind",
            f"127.0.0.1:{second}",
            "--console",
            "--config-file",
            os.devnull,
        ],
        environment,
    )
    try:
        wait_admitted(port, "first", process).close()
        wait_admitted(second, "second", process).close()
    finally:
        process.terminate()
        process.wait(20)


def test_no_options_is_a_single_machine_installation_with_its_database(environment):
    # Only the port differs from running it without arguments: the shipped configuration,
    # its 15 groups and the dbplugin storing into SQLite under ~/.seiscomp3.
    port = free_port()
    process = start(["--bind", f"127.0.0.1:{port}"], environment)
    try:
        wait_admitted(port, "first", process).close()
        module = Module(port, "plain")
        _, ok = module.handshake("PICK")
        assert ok.text == OK_DATA_11
        _, offer = module.next()
        database = os.path.join(environment["HOME"], ".seiscomp3", "seiscomp3.sqlite")
        assert decode_payload(offer.data, 0) == DatabaseProvideMessage(name="sqlite3", parameters=database)
        assert os.path.getsize(database) > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_mistake_in_a_file_of_the_load_order_is_named_and_the_rest_runs(environment, tmp_path):
    system = tmp_path / "root" / "etc"
    system.mkdir(parents=True)
    faulty = system / "scmaster.cfg"
    faulty.write_text('plugins = ""\nmsgGroups = PICK, , AMPLITUDE\n')
    user = tmp_path / "home" / ".seiscomp3"
    user.mkdir()
    (user / "scmaster.cfg").write_text("msgGroups = NOT_READ\n")  # after the faulty file
    port = free_port()
    process = start(["--bind", f"127.0.0.1:{port}", "--console"], environment)
    try:
        module = wait_admitted(port, "survivor", process)
        module.connect_request("PICK")
        _, ok = module.receive(lambda m, b: b.destination == module.private_group)
        assert ok.text == OK_DATA_11  # the shipped groups: neither the faulty nor the later value
        assert module.nothing_more(0.2) == []  # plugins = "" before the mistake took effect
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        output = process.stdout.read()
        assert f"{faulty}:2: msgGroups: invalid list: empty item (later files not read)" in output
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_daemon_detaches_with_its_pid_in_the_lock_file(environment, tmp_path):
    port = free_port()
    result = subprocess.run(
        COMMAND
        + ["-D", "-l", "scmaster.pid", "--log-file", "scmaster3.log", "--verbosity", "3"]
        + ["--bind", f"127.0.0.1:{port}", "--config-file", os.devnull],
        env=environment,
        cwd=tmp_path,  # the relative paths are taken from here, although a daemon works in /
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lock = tmp_path / "scmaster.pid"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline, "no PID in the lock file"
        time.sleep(0.05)
    pid = int(lock.read_text())
    try:
        wait_admitted(port, "detached", None).close()
        held = run(["--console", "--config-file", os.devnull, "-D", "-l", str(lock)], environment)
        assert held.returncode == 1 and "locked" in held.stderr  # told before detaching
    finally:
        os.kill(pid, signal.SIGTERM)
    with open(lock) as file:  # the lock is free once the daemon has ended
        deadline = time.monotonic() + 20
        while True:
            try:
                fcntl.lockf(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except OSError:
                assert time.monotonic() < deadline, "the daemon did not stop"
                time.sleep(0.05)
    log = (tmp_path / "scmaster3.log").read_text()
    assert "[scmaster3.bus] connected to the bus" in log and "disconnected from the bus" in log


@pytest.mark.parametrize("option", ["--bind", "--sbind"])
def test_address_in_use_exits_1(environment, option):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        args = ["--console", "--config-file", os.devnull, "--bind", f"127.0.0.1:{free_port()}"]
        result = run(args + [option, address], environment)
    assert result.returncode == 1
    assert "address already in use" in result.stderr
