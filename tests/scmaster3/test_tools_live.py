"""scsend3, scdump3 and scadmin3 as commands against a running scmaster3.

Each tool runs as a subprocess (``python -m scmaster3.tools.<tool>``, what the console scripts
call), against one mediator started for this module; the expected text follows the golden
scadmin output and the golden scdispatch inputs.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.scmaster3.test_client_master import WAIT, start_mediator

ADD = "golden/sc3/inputs/ep_add.xml"


@pytest.fixture(scope="module")
def mediator(tmp_path_factory):
    running = start_mediator(tmp_path_factory.mktemp("tools"))
    yield running
    running.stop()


def tool(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"scmaster3.tools.{name}", *args]


def run(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(tool(name, *args), capture_output=True, text=True, timeout=WAIT)


class Dumper:
    """scdump3 in the background, started with -v; ready once it says what it listens to."""

    def __init__(self, address: str, *args: str) -> None:
        self.process = subprocess.Popen(
            tool("scdump", "-H", address, "-v", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + WAIT
        while True:
            line = self.process.stderr.readline()
            if "listening to" in line:
                return
            if not line or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"scdump3 did not start: {line}{self.process.stderr.read()}")

    def finish(self) -> tuple[int, str]:
        """Exit status and standard output, once it has ended by itself."""
        out, _ = self.process.communicate(timeout=WAIT)
        return self.process.returncode, out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def test_scsend_to_scdump(mediator, shared_dir):
    dumper = Dumper(mediator.address, "-S", "PICK", "-S", "LOCATION", "-n", "3")
    try:
        sent = run("scsend", "-H", mediator.address, "-i", str(shared_dir / ADD))
        assert sent.returncode == 0, sent.stderr
        status, out = dumper.finish()
    finally:
        dumper.stop()
    assert status == 0
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("  ")] == [
        "  add Pick Pick/20200101000010.000000.GOLDEN1 parent=EventParameters",
        "  add Origin Origin/20200101000005.000000.GOLDEN1 parent=EventParameters",
        "  add Arrival [Pick/20200101000010.000000.GOLDEN1] parent=Origin/20200101000005.000000.GOLDEN1",
    ]
    headlines = [line for line in lines if line.startswith("seq=")]
    assert [line.split(" to=")[1].split()[0] for line in headlines] == ["PICK", "LOCATION", "LOCATION"]
    assert all("type=DATA_MSG/BINARY" in line for line in headlines)


def test_scsend_xml_and_remove_to_scdump_as_xml(mediator, shared_dir):
    dumper = Dumper(mediator.address, "-S", "PICK", "-n", "2", "--xml")
    try:
        inputs = shared_dir / "golden" / "sc3" / "inputs"
        for document, operation in (("ep2_add.xml", "add"), ("ep2_remove.xml", "remove")):
            sent = run(
                "scsend",
                "-H",
                mediator.address,
                "-i",
                str(inputs / document),
                "-O",
                operation,
                "--encoding",
                "xml",
            )
            assert sent.returncode == 0, sent.stderr
        status, out = dumper.finish()
    finally:
        dumper.stop()
    assert status == 0
    assert out.count("type=DATA_MSG/XML") == 2
    assert '<notifier parentID="EventParameters" operation="add">' in out
    assert '<notifier parentID="EventParameters" operation="remove">' in out
    assert out.count('<Pick publicID="Pick/20200101000010.000000.GOLDEN2">') == 2


def test_scsend_refused_group(mediator, shared_dir):
    sent = run("scsend", "-H", mediator.address, "-i", str(shared_dir / ADD), "-g", "NOPE")
    assert sent.returncode == 1
    assert "NOPE" in sent.stderr


def test_scadmin_list_with_right_and_wrong_password(mediator):
    dumper = Dumper(mediator.address, "-u", "listed", "-S", "PICK")
    try:
        listed = run("scadmin", "-H", mediator.address, "--password", "secret", "-c")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[:2] == [
            f"Successfully connected to address: {mediator.address}",
            f"= Connected clients to master on {mediator.address} =",
        ]
        assert "Client Name: #listed#localhost" in lines
        assert "Client Name: #ADMIN#localhost" in lines
        verbose = run("scadmin", "-H", mediator.address, "--password", "secret", "-c", "-v")
        assert "Program name: scdump3" in verbose.stdout.splitlines()
        assert "Program name: scadmin" in verbose.stdout.splitlines()
        table = run("scadmin", "-H", mediator.address, "--password", "secret", "-c", "-T")
        rows = [line.split() for line in table.stdout.splitlines()[2:]]
        assert rows[0] == ["Client", "Type", "Priority", "Program", "Host", "IPs", "Uptime"]
        assert ["#listed#localhost", "DEFAULT", "DEFAULT", "scdump3"] in [row[:4] for row in rows]
        assert ["#ADMIN#localhost", "ONE", "HIGH", "scadmin"] in [row[:4] for row in rows]

        refused = run("scadmin", "-H", mediator.address, "--password", "wrong", "-c")
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert "refused the admin connection" in refused.stderr
    finally:
        dumper.stop()


def test_scadmin_groups_and_members(mediator):
    dumper = Dumper(mediator.address, "-u", "member", "-S", "PICK")
    try:
        shown = run("scadmin", "-H", mediator.address, "--password", "secret", "-g", "-m", "PICK")
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        groups = lines.index(f"= Available groups on {mediator.address} =")
        assert lines[groups + 1 : groups + 6] == ["STATUS_GROUP", "IMPORT_GROUP", "EVENT", "LOCATION", "PICK"]
        members = lines.index("= Members of group PICK =")
        assert sorted(lines[members + 1 :]) == ["#ADMIN#localhost", "#member#localhost"]
    finally:
        dumper.stop()


def test_scadmin_status(mediator):
    dumper = Dumper(mediator.address, "-u", "healthy", "-S", "PICK")
    try:
        status = run("scadmin", "-H", mediator.address, "--password", "secret", "-s", "#healthy#localhost")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[1] == "= Status for client: #healthy#localhost ="
        assert "Client Name: healthy" in lines
        assert "Program name: scdump3" in lines
        assert any(line.startswith("Client Uptime: 0:00:") for line in lines)
        table = run(
            "scadmin", "-H", mediator.address, "--password", "secret", "-s", "#healthy#localhost", "-T"
        )
        header, _, row = table.stdout.splitlines()[2:]
        assert header.split()[:3] == ["Client", "Host", "Program"]
        assert row.split()[0] == "#healthy#localhost" and row.split()[2] == "scdump3"
        unknown = run("scadmin", "-H", mediator.address, "--password", "secret", "-s", "#nobody#localhost")
        assert unknown.returncode == 1
        assert "refused" in unknown.stderr
    finally:
        dumper.stop()


def test_scadmin_disconnect(mediator, shared_dir):
    victim = Dumper(mediator.address, "-u", "victim", "-S", "PICK")
    try:
        done = run("scadmin", "-H", mediator.address, "--password", "secret", "-d", "#victim#localhost")
        assert done.returncode == 0, done.stderr
        golden = (shared_dir / "golden" / "sc3" / "admin" / "scadmin_disconnect.stdout.txt").read_text()
        assert done.stdout == golden.replace("127.0.0.1:15903", mediator.address)
        status, _ = victim.finish()  # the victim said goodbye and ended
        assert status == 0
    finally:
        victim.stop()
    after = run("scadmin", "-H", mediator.address, "--password", "secret", "-c")
    assert "#victim#localhost" not in after.stdout
