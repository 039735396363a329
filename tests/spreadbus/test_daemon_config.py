"""spread.conf and the spreadbusd command line."""

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spreadbus import wire
from spreadbus.conf import ConfigError, load_config, parse_config
from spreadbus.daemon import SpreadDaemon, _parser, options_from_args
from spreadbus.flow import Marks

SEISCOMP_TEMPLATE = """\
Spread_Segment 127.0.0.255:4803 {
    localhost 127.0.0.1
}

SocketPortReuse = ON
"""

TWO_MACHINES = """\
# a two-machine segment
Spread_Segment  192.168.1.255:24803 {
    proc1   192.168.1.10 {
        D 192.168.1.10
        C 192.168.1.10
        C 127.0.0.1       # local clients too
        M 10.0.0.1
    }
    proc2   192.168.1.11 {
        192.168.1.11
    }
}
EventLogFile = "/var/log/spread.log"
EventTimeStamp
DebugFlags = { PRINT EXIT }
MaxSessionMessages = 5000
AllowedAuthMethods = "NULL"
AccessControlPolicy = PERMIT
"""


def test_seiscomp_generated_configuration():
    config = parse_config(SEISCOMP_TEMPLATE)
    segment, entry = config.find_daemon("localhost")
    assert (segment.address, segment.port) == ("127.0.0.255", 4803)
    assert (entry.name, entry.address, entry.client_addresses) == ("localhost", "127.0.0.1", [])
    assert config.max_session_messages == 1000 and config.ignored == ["SocketPortReuse"]
    assert config.find_daemon() == (segment, entry)  # the only entry


def test_interfaces_settings_and_comments():
    config = parse_config(TWO_MACHINES)
    segment, proc1 = config.find_daemon("proc1")
    assert segment.port == 24803
    assert proc1.client_addresses == ["192.168.1.10", "127.0.0.1"]
    _, proc2 = config.find_daemon("proc2")
    assert proc2.client_addresses == ["192.168.1.11"]  # untyped interface: all roles
    assert config.max_session_messages == 5000
    assert config.settings["debugflags"][0] == "PRINT EXIT"
    assert config.settings["eventlogfile"][0] == "/var/log/spread.log"
    assert config.unknown == []


def test_segment_without_port_and_daemon_given_by_address():
    config = parse_config("Spread_Segment 10.1.1.255 { 127.0.0.1 }")
    segment, entry = config.find_daemon()
    assert segment.port == wire.DEFAULT_SPREAD_PORT and entry.name == "127.0.0.1"


@pytest.mark.parametrize(
    "text, line, key",
    [
        ("Spread_Segment 127.0.0.255:4803 {\n  localhost 127.0.0.1\n", 2, "Spread_Segment"),
        ("Spread_Segment 127.0.0.255:99999 { localhost 127.0.0.1 }", 1, "Spread_Segment"),
        ("Spread_Segment 127.0.0.255:4803 {\n  localhost 127.0.0.300\n}", 2, "localhost"),
        ("\n\nMaxSessionMessages = lots\n", 3, "MaxSessionMessages"),
        ('AllowedAuthMethods = "IP"\n', 1, "AllowedAuthMethods"),
        ("AccessControlPolicy = DENY\n", 1, "AccessControlPolicy"),
        ("Spread_Segment 127.0.0.255:4803 {\n  a 127.0.0.1 {\n    X 127.0.0.1\n  }\n}", 3, "a"),
        ("Spread_Segment 1.2.3.255 { averyveryverylongname1 1.2.3.4 }", 1, "averyveryverylongname1"),
        ("Window\n", 1, "Window"),
    ],
)
def test_errors_name_line_and_key(text, line, key):
    with pytest.raises(ConfigError) as info:
        config = parse_config(text, "x.conf")
        config.find_daemon()
        config.max_session_messages  # noqa: B018 - validation on access
    assert (info.value.path, info.value.line, info.value.key) == ("x.conf", line, key)
    assert str(info.value).startswith(f"x.conf:{line}: {key}:")


def test_unknown_daemon_name_and_ambiguous_entries():
    config = parse_config(TWO_MACHINES, "two.conf")
    with pytest.raises(ConfigError, match="two.conf:.*nobody.*no daemon of this name"):
        config.find_daemon("nobody")
    # neither 192.168.1.10 nor .11 is this machine (on the test host), so -n is needed
    with pytest.raises(ConfigError, match="choose one with -n"):
        config.find_daemon()


def test_shipped_example_configuration():
    example = Path(__file__).resolve().parents[2] / "etc" / "spread.conf"
    segment, entry = load_config(example).find_daemon("localhost")
    assert (segment.port, entry.client_addresses) == (4803, ["127.0.0.1"])


def args(*argv):
    return options_from_args(_parser().parse_args(list(argv)))


def test_command_line_defaults_are_a_single_seiscomp_machine():
    options = args()
    assert options == {"name": "localhost", "unix_dir": "/tmp"}  # port 4803 and 127.0.0.1 by default


def test_command_line_with_spread_conf(tmp_path):
    conf = tmp_path / "spread.conf"
    conf.write_text(TWO_MACHINES)
    options = args("-n", "proc1", "-c", str(conf))
    assert options["name"] == "proc1" and options["port"] == 24803
    assert options["hosts"] == ["192.168.1.10", "127.0.0.1"]
    assert options["max_session_messages"] == 5000 and options["proc_id"] == 0xC0A8010A
    options = args("-n", "proc1", "-c", str(conf), "--port", "7000", "--bind", "127.0.0.1", "--no-unix")
    assert (options["port"], options["hosts"], options["unix_dir"]) == (7000, ["127.0.0.1"], None)
    assert args("--bind", "0.0.0.0")["hosts"] == []


def test_command_line_protected_sessions():
    assert "protect" not in args()  # the daemon's default: _MASTER_
    assert args("--protect", "_MASTER_", "--protect", "archive")["protect"] == ["_MASTER_", "archive"]
    assert args("--no-protect")["protect"] == ()
    with pytest.raises(SystemExit):
        _parser().parse_args(["--protect", "x", "--no-protect"])


def test_protection_options_of_the_daemon():
    daemon = SpreadDaemon()
    assert daemon.protected_names == {b"_MASTER_"}
    assert (daemon.flow_marks.messages, daemon.flow_marks.bytes) == (750, 16 << 20)
    daemon = SpreadDaemon(protect=["a", "b"], max_session_messages=20, protect_high_bytes=1000)
    assert daemon.protected_names == {b"a", b"b"} and daemon.flow_marks == Marks(15, 1000)
    assert SpreadDaemon(protect=()).protected_names == frozenset()
    for bad in ("a b", "", "elevenchars", "caf\xe9", "\u540d"):
        with pytest.raises(ValueError, match="illegal private name to protect"):
            SpreadDaemon(protect=[bad])
    for high in (0, 1001):
        with pytest.raises(ValueError, match="protect_high_messages"):
            SpreadDaemon(protect_high_messages=high)
    with pytest.raises(ValueError, match="must be positive"):
        SpreadDaemon(protect_high_bytes=0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_daemon(argv, tmp_path):
    return subprocess.Popen(
        [sys.executable, "-m", "spreadbus.daemon", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )


def test_spreadbusd_serves_the_entry_named_on_the_command_line(tmp_path, RawClient):
    port = free_port()
    conf = tmp_path / "spread.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        Spread_Segment 127.0.0.255:{port} {{
            other 10.99.99.99
            bus1 127.0.0.1 {{
                D 127.0.0.1
                C 127.0.0.1
            }}
        }}
        """)
    )
    process = run_daemon(["-n", "bus1", "-c", str(conf), "--unix-dir", str(tmp_path)], tmp_path)
    try:
        line = process.stdout.readline().decode()
        assert f"daemon bus1 serving clients on 127.0.0.1:{port}" in line
        daemon = type("Address", (), {"port": port, "unix_path": str(tmp_path / str(port))})
        client = RawClient.connect(daemon, "sc", unix=True)
        assert client.private_group == b"#sc#bus1"
        client.join("g")
        assert client.receive().groups == [b"#sc#bus1"]
        client.close()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 0
    assert "#sc#bus1" in output and "stopping" in output
    assert not (tmp_path / str(port)).exists()  # the unix socket is removed at exit


def test_spreadbusd_reports_configuration_errors(tmp_path):
    conf = tmp_path / "spread.conf"
    conf.write_text("Spread_Segment 127.0.0.255:4803 {\n  localhost 127.0.0.1\n}\n")
    process = run_daemon(["-n", "elsewhere", "-c", str(conf)], tmp_path)
    output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 2
    assert f"{conf}:2: elsewhere: no daemon of this name" in output
    process = run_daemon(["--protect", "_MASTER_", "--protect", "a b"], tmp_path)
    output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 2 and "illegal private name to protect 'a b'" in output


def test_spreadbusd_process_fixture(spreadbusd_process, RawClient):
    client = RawClient.connect(spreadbusd_process, "proc", unix=True)
    assert client.private_group == b"#proc#localhost"
    client.disconnect()
