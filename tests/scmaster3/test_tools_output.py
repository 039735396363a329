"""What scadmin3 and scdump3 print, checked against scadmin's real output and golden payloads."""

from __future__ import annotations

import json

from scmaster3.protocol import ClientStatus, NetworkMessage, parse_client_list
from scmaster3.tools.scadmin import client_table, format_client_list, format_status, status_table
from scmaster3.tools.scdump import render

ADDRESS = "127.0.0.1:15903"


def golden_list_reply(shared_dir, session: str) -> str:
    path = shared_dir / "golden" / "sc3" / "traces" / f"{session}.frames.jsonl"
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if item.get("mess_type") == -18:
            return item["sc3"]["body_text"]
    raise AssertionError(f"no client list in {session}")


def stdout_lines(shared_dir, name: str) -> list[str]:
    return (shared_dir / "golden" / "sc3" / "admin" / name).read_text().splitlines()


def test_verbose_client_list_as_scadmin_prints_it(shared_dir):
    entries = parse_client_list(golden_list_reply(shared_dir, "11_scadmin_list"))
    golden = stdout_lines(shared_dir, "scadmin_list.stdout.txt")
    # scadmin -c -v: log lines (ours go to stderr), the connect line, then the list.
    start = golden.index(f"Successfully connected to address: {ADDRESS}") + 1
    assert format_client_list(entries, ADDRESS, verbose=True) == golden[start:]


def test_client_list_as_scadmin_prints_it(shared_dir):
    entries = parse_client_list(golden_list_reply(shared_dir, "14_scadmin_list_after"))
    golden = stdout_lines(shared_dir, "scadmin_list2.stdout.txt")
    assert golden[0] == f"Successfully connected to address: {ADDRESS}"
    assert format_client_list(entries, ADDRESS) == golden[1:]


def test_empty_client_list():
    assert format_client_list([], ADDRESS) == [f"= Connected clients to master on {ADDRESS} ="]


def test_status_report_lines(shared_dir):
    path = shared_dir / "golden" / "sc3" / "traces" / "10_sctestclient_victim.frames.jsonl"
    report = next(
        json.loads(line)["sc3"]["body_text"]
        for line in path.read_text().splitlines()
        if json.loads(line).get("mess_type") == -15
    )
    lines = format_status(ClientStatus.parse(report))
    assert lines[:5] == [
        "Client Name: sctest",
        "Private group: #sctest#localhost",
        "Hostname: vm",
        "IP(s): 127.0.0.1 ",
        "Program name: sctestclient",
    ]
    assert "Memory usage: 0.1% (22236 of 24684092 kB)" in lines
    assert "Average message queue size: 1" in lines
    assert lines[-1] == "Client Uptime: 0:00:00:15"


def test_client_list_as_a_table(shared_dir):
    entries = parse_client_list(golden_list_reply(shared_dir, "11_scadmin_list"))
    assert client_table(entries, ADDRESS) == [
        f"= Connected clients to master on {ADDRESS} =",
        "Client             Type     Priority  Program       Host  IPs        Uptime",
        "-----------------  -------  --------  ------------  ----  ---------  --------",
        "#sctest#localhost  DEFAULT  DEFAULT   sctestclient  vm    127.0.0.1  0:0:0:15",
        "#victim#localhost  DEFAULT  DEFAULT   sctestclient  vm    127.0.0.1  0:0:0:2",
        "#ADMIN#localhost   ONE      HIGH      scadmin       vm    127.0.0.1  0:0:0:0",
    ]


def test_status_reports_as_a_table(shared_dir):
    path = shared_dir / "golden" / "sc3" / "traces" / "10_sctestclient_victim.frames.jsonl"
    report = next(
        json.loads(line)["sc3"]["body_text"]
        for line in path.read_text().splitlines()
        if json.loads(line).get("mess_type") == -15
    )
    other = ClientStatus(private_group="#x#h", host_name="h", program_name="a-long-program-name")
    assert status_table([ClientStatus.parse(report), other]) == [
        "Client             Host  Program              PID    CPU%  Mem%  Sent  Received  AvgQueue  AvgSize"
        "  Uptime",
        "-----------------  ----  -------------------  -----  ----  ----  ----  --------  --------  -------"
        "  ----------",
        "#sctest#localhost  vm    sctestclient         18052  0     0.1   1     63        1         0"
        "        0:00:00:15",
        "#x#h               h     a-long-program-name               0.0                   0         0",
    ]


def payload(shared_dir, name: str) -> NetworkMessage:
    return NetworkMessage.decode((shared_dir / "golden" / "sc3" / "payloads" / name).read_bytes())


def test_dump_lines_of_relayed_notifiers(shared_dir):
    pick = payload(shared_dir, "02_sctestclient_listener_m01_s2c_DATA_MSG_BINARY_PICK.netmsg.bin")
    assert render(pick).splitlines() == [
        "seq=5 time=2026-11-22T03:17:24Z type=DATA_MSG/BINARY from=#scdisp#localhost to=PICK size=283",
        "  add Pick Pick/20200101000010.000000.GOLDEN1 parent=EventParameters",
    ]
    arrival = payload(shared_dir, "02_sctestclient_listener_m08_s2c_DATA_MSG_XML_LOCATION.netmsg.bin")
    assert render(arrival).splitlines()[1] == (
        "  add Arrival [Pick/20200101000010.000000.GOLDEN2] parent=Origin/20200101000005.000000.GOLDEN2"
    )
    offer = payload(shared_dir, "03_scdispatch_add_binary_m03_s2c_DATA_MSG_BINARY_scdisplocalhost.netmsg.bin")
    assert (
        render(offer).splitlines()[1]
        == "  database_response_message name='sqlite3' parameters='seiscomp3.sqlite'"
    )


def test_dump_as_xml(shared_dir):
    update = payload(shared_dir, "02_sctestclient_listener_m04_s2c_DATA_MSG_BINARY_LOCATION.netmsg.bin")
    lines = render(update, as_xml=True).splitlines()
    assert lines[0].startswith("seq=11 ")
    assert lines[1] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert '    <notifier parentID="EventParameters" operation="update">' in lines


def test_undecodable_payload_is_reported():
    odd = NetworkMessage(type=1, destination="PICK", data=b"not zlib", private_sender_group="#a#b", seq_num=3)
    lines = render(odd).splitlines()
    assert lines[0] == "seq=3 time=- type=DATA_MSG/BINARY from=#a#b to=PICK size=8"
    assert lines[1].startswith("  (payload not decoded:")
