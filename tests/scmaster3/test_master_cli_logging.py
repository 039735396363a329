"""The logging options of ``scmaster3`` (SeisComP's): where lines go, which ones, how they look."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from scmaster3 import cli
from scmaster3.config import ConfigLayout


@pytest.fixture
def layout(tmp_path):
    return ConfigLayout(root=tmp_path / "root", home=tmp_path / "home")


@pytest.fixture(autouse=True)
def restore_logging():
    """setup_logging replaces the root logger's handlers: give the test's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    bus_level = logging.getLogger("spreadbus").level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("spreadbus").setLevel(bus_level)


def configure(layout: ConfigLayout, *options: str) -> None:
    args, _ = cli.build_parser().parse_known_args(list(options))
    cli.setup_logging(args, layout)


def emit_one_of_each() -> None:
    for name in ("scmaster3.master", "scmaster3.bus", "spreadbus.daemon", "dbplugin"):
        logger = logging.getLogger(name)
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
            logger.log(level, "%s %s", name, logging.getLevelName(level).lower())


def messages(text: str) -> list[str]:
    """The lines without their time stamps."""
    return [line.split(" ", 2)[2] for line in text.splitlines()]


def test_default_is_warnings_to_the_log_file_with_components(layout):
    configure(layout)
    emit_one_of_each()
    lines = messages((layout.user_dir / "log" / "scmaster.log").read_text())
    assert lines[:2] == [
        "[WARNING] [scmaster3.master] scmaster3.master warning",
        "[ERROR] [scmaster3.master] scmaster3.master error",
    ]
    assert len(lines) == 8


def test_verbosity_and_v_add_up(layout, tmp_path):
    log_file = tmp_path / "other.log"
    configure(layout, "--log-file", str(log_file), "--verbosity", "1", "-vv", "--component", "master")
    emit_one_of_each()
    assert messages(log_file.read_text()) == [
        "[INFO] [scmaster3.master] scmaster3.master info",
        "[WARNING] [scmaster3.master] scmaster3.master warning",
        "[ERROR] [scmaster3.master] scmaster3.master error",
    ]
    assert not (layout.user_dir / "log" / "scmaster.log").exists()


@pytest.mark.parametrize("options", [["-q"], ["--verbosity", "0"], ["-q", "--debug"]])
def test_quiet_logs_nothing(layout, capsys, options):
    configure(layout, *options)
    emit_one_of_each()
    assert capsys.readouterr().err == ""
    assert not (layout.user_dir / "log").exists()


def test_components_are_logger_names_their_prefixes_or_last_parts(layout, capsys):
    configure(layout, "--console", "--component", "scmaster3", "--component", "dbplugin")
    emit_one_of_each()
    assert {line.split("] ")[1].split()[0] for line in capsys.readouterr().err.splitlines()} == {
        "scmaster3.master",
        "scmaster3.bus",
        "dbplugin",
    }
    configure(layout, "--console", "--component", "bus")
    emit_one_of_each()
    assert {line.split("] ")[1].split()[0] for line in capsys.readouterr().err.splitlines()} == {
        "scmaster3.bus"  # not spreadbus.daemon: a component is a whole part of the name
    }


def test_console_leaves_the_component_out_unless_asked(layout, capsys):
    configure(layout, "--console")
    logging.getLogger("scmaster3.master").warning("plain")
    configure(layout, "--console", "1", "--print-component", "1")
    logging.getLogger("scmaster3.master").warning("named")
    configure(layout, "--print-component", "0")
    logging.getLogger("scmaster3.master").warning("bare")
    assert messages(capsys.readouterr().err) == ["[WARNING] plain", "[WARNING] [scmaster3.master] named"]
    assert messages((layout.user_dir / "log" / "scmaster.log").read_text()) == ["[WARNING] bare"]


def test_debug_and_trace(layout, capsys):
    configure(layout, "--debug")
    emit_one_of_each()
    lines = messages(capsys.readouterr().err)
    assert "[DEBUG] scmaster3.master debug" in lines
    assert "[DEBUG] spreadbus.daemon debug" not in lines  # every session's comings and goings
    assert "[INFO] spreadbus.daemon info" in lines
    configure(layout, "--trace")
    emit_one_of_each()
    lines = messages(capsys.readouterr().err)
    assert "[DEBUG] [spreadbus.daemon] spreadbus.daemon debug" in lines
    assert len(lines) == 16


def test_syslog(layout, tmp_path, monkeypatch):
    path = str(tmp_path / "log")
    monkeypatch.setattr(cli, "SYSLOG_SOCKET", path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(path)
        syslog.settimeout(5)
        configure(layout, "-s", "--verbosity", "3")
        logging.getLogger("scmaster3.bus").info("to syslog")
        # <14>: facility user (1), severity info (6)
        assert syslog.recv(1000) == f"<14>scmaster3[{os.getpid()}]: [scmaster3.bus] to syslog\0".encode()


def test_syslog_that_is_not_there_falls_back_to_the_console(layout, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYSLOG_SOCKET", str(tmp_path / "missing"))
    configure(layout, "--syslog")
    logging.getLogger("scmaster3.bus").warning("still seen")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"scmaster3: no syslog at {tmp_path / 'missing'}; logging to the console"
    assert messages(err[1])[0] == "[WARNING] still seen"
