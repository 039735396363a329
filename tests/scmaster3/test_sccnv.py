"""``sccnv3``: golden documents and payload bodies converted between trunk (XML) and binary."""

import io
import subprocess
import sys

import pytest

from scmaster3.io import binary, xml
from scmaster3.tools import sccnv
from scmaster3.tools.sccnv import main, split_stream
from tests.scmaster3.test_xml_golden import SAME_NOTIFIERS


@pytest.fixture(scope="module")
def golden(shared_dir):
    return shared_dir / "golden" / "sc3"


def run(*argv):
    return main(list(argv))


def test_streams_default_to_trunk_and_standard_io():
    assert split_stream("") == ("trunk", "-")
    assert split_stream("ep.xml") == ("trunk", "ep.xml")
    assert split_stream("binary:") == ("binary", "-")
    assert split_stream("binary:/tmp/a:b") == ("binary", "/tmp/a:b")
    assert split_stream(":x") == ("trunk", "x")


def test_scxmldump_output_goes_to_binary_and_back_byte_for_byte(golden, tmp_path):
    source = golden / "db" / "scxmldump_origin_GOLDEN1.xml"
    archive = tmp_path / "origin.bin"
    assert run("-i", f"trunk:{source}", "-o", f"binary:{archive}") == 0
    data = archive.read_bytes()
    assert data[:8] == b"SCBA\x0b\x00\x00\x00"
    assert binary.decode(data) == xml.decode(source.read_bytes())
    back = tmp_path / "origin.xml"
    assert run("-i", f"binary:{archive}", "-o", str(back), "-f") == 0
    assert back.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(("xml_name", "binary_name"), SAME_NOTIFIERS)
def test_payload_bodies_convert_into_each_other(golden, tmp_path, xml_name, binary_name):
    # Sessions 06-08 sent in XML what 03-05 sent in binary, with GOLDEN2 ids for GOLDEN1.
    xml_body = (golden / "payloads" / f"{xml_name}.body.xml").read_bytes()
    binary_body = (golden / "payloads" / f"{binary_name}.body.bin").read_bytes()
    source = tmp_path / "in.xml"
    source.write_bytes(xml_body.replace(b"GOLDEN2", b"GOLDEN1"))
    assert run("-i", str(source), "-o", f"binary:{tmp_path / 'out.bin'}") == 0
    assert (tmp_path / "out.bin").read_bytes() == binary_body
    (tmp_path / "in.bin").write_bytes(binary_body)
    assert run("-i", f"binary:{tmp_path / 'in.bin'}", "-o", f"trunk:{tmp_path / 'out.xml'}") == 0
    assert (tmp_path / "out.xml").read_bytes() == xml_body.replace(b"GOLDEN2", b"GOLDEN1")


@pytest.mark.parametrize("name", ["ep_add.xml", "ep_update.xml", "ep2_remove.xml"])
def test_scdispatch_inputs_convert_to_binary_and_back(golden, tmp_path, name):
    source = golden / "inputs" / name
    assert run("-i", str(source), "-o", f"binary:{tmp_path / 'ep.bin'}") == 0
    assert run("-i", f"binary:{tmp_path / 'ep.bin'}", "-o", str(tmp_path / "ep.xml")) == 0
    assert xml.decode((tmp_path / "ep.xml").read_bytes()) == xml.decode(source.read_bytes())


def test_unversioned_binary_input_is_read(tmp_path):
    ep = xml.decode(b'<seiscomp version="0.11"><EventParameters/></seiscomp>')
    (tmp_path / "plain.bin").write_bytes(binary.encode(ep, 0))
    assert run("-i", f"binary:{tmp_path / 'plain.bin'}", "-o", str(tmp_path / "ep.xml")) == 0
    assert xml.decode((tmp_path / "ep.xml").read_bytes()) == ep


def test_standard_input_and_output(golden, monkeypatch, capsysbinary):
    source = (golden / "db" / "scxmldump_origin_GOLDEN1.xml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(source)))
    assert run("-i", "-", "-o", "binary:-") == 0
    out = capsysbinary.readouterr().out
    assert out == binary.encode(xml.decode(source))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(out)))
    assert run("-i", "binary:", "-f", "--indent", "4") == 0
    text = capsysbinary.readouterr().out
    assert xml.decode(text) == xml.decode(source)
    assert b'\n    <EventParameters>\n        <origin publicID="Origin/' in text


def test_the_console_script_converts_through_pipes(golden):
    source = (golden / "inputs" / "ep_add.xml").read_bytes()
    to_binary = subprocess.run(
        [sys.executable, "-m", "scmaster3.tools.sccnv", "-i", "trunk:-", "-o", "binary:-"],
        input=source,
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert to_binary.stdout == binary.encode(xml.decode(source))
    assert to_binary.stderr == b""


def test_format_list(capsys):
    assert run("--format-list") == 0
    assert capsys.readouterr().out == "Input formats: binary, trunk\nOutput formats: binary, trunk\n"
    assert sorted(sccnv.FORMATS) == ["binary", "trunk"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no input and output stream given"),
        (["-i", "qml1.2:x.xml", "-o", "binary:"], "unknown input format 'qml1.2'"),
        (["-i", "x.xml", "-o", "csv:"], "unknown output format 'csv'"),
        (["-i", "/nonexistent/ep.xml", "-o", "binary:"], "cannot read /nonexistent/ep.xml"),
    ],
)
def test_usage_errors_exit_1_with_a_message(argv, message, capsys):
    assert run(*argv) == 1
    assert message in capsys.readouterr().err


def test_malformed_input_names_the_defect(tmp_path, capsys):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(
        b'<seiscomp version="0.11">\n<Pick publicID="p"><time><value>soon</value></time></Pick></seiscomp>'
    )
    assert run("-i", str(bad), "-o", f"binary:{tmp_path / 'x.bin'}") == 1
    err = capsys.readouterr().err
    assert f"cannot read trunk input {bad}" in err and "not a time: 'soon' (line 2)" in err
    assert not (tmp_path / "x.bin").exists()
    (tmp_path / "bad.bin").write_bytes(b"SCBA\x0b\x00\x00\x00\xff\xff")
    assert run("-i", f"binary:{tmp_path / 'bad.bin'}", "-o", str(tmp_path / "x.xml")) == 1
    assert "cannot read binary input" in capsys.readouterr().err


def test_objects_xml_cannot_carry_are_reported(tmp_path, capsys):
    comment = xml.decode(b'<seiscomp version="0.11"><Comment><text>ok</text></Comment></seiscomp>')
    data = binary.encode(comment).replace(b"ok", b"\x07k")
    (tmp_path / "c.bin").write_bytes(data)
    assert run("-i", f"binary:{tmp_path / 'c.bin'}", "-o", str(tmp_path / "c.xml")) == 1
    assert "cannot write the object as trunk" in capsys.readouterr().err


def test_negative_indent_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("-i", "x", "--indent", "-1")
    assert exit_info.value.code == 2
