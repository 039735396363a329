"""Text payloads of service messages against the captures of the real SeisComP3 stack."""

import json

import pytest

from scmaster3.protocol import (
    ClientListEntry,
    ClientStatus,
    ConnectOk,
    MembershipChange,
    MessageType,
    ProtocolError,
    ServiceMessage,
    client_priority_name,
    client_type_name,
    connection_info_value,
    format_client_list,
    format_connection_info,
    format_items,
    format_list_uptime,
    format_soh_uptime,
    parse_client_list,
    parse_connection_info,
    parse_schema_version,
    with_default_groups,
)

SHIPPED_GROUPS = (
    "AMPLITUDE,CONFIG,EVENT,FOCMECH,GUI,INVENTORY,LOCATION,LOGGING,MAGNITUDE,PICK,PUBLICATION,QC,ROUTING,"
    "SERVICE_PROVIDE,SERVICE_REQUEST"
).split(",")


def data_texts(shared_dir, kind):
    payloads = shared_dir / "golden" / "sc3" / "payloads"
    paths = sorted(payloads.glob(f"*_{kind}_*.data.txt"))
    assert paths
    return [path.read_bytes().decode("latin-1") for path in paths]


def republished_reports(shared_dir):
    """(report as sent by its client, report as republished by the master) from the master's trace."""
    reports = {}
    pairs = []
    trace = shared_dir / "golden" / "sc3" / "traces" / "01_scmaster.frames.jsonl"
    for line in trace.read_text().splitlines():
        frame = json.loads(line)
        body = frame.get("sc3")
        if not body or body["type"] != MessageType.STATE_OF_HEALTH_RESPONSE_MSG:
            continue
        if body["tagged"] == 0:
            reports[body["privateSenderGroup"]] = body["body_text"]
        else:
            pairs.append((reports[body["privateSenderGroup"]], body["body_text"]))
    assert len(pairs) == 4
    return pairs


# --- connection-info strings ----------------------------------------------------------------


def test_captured_connect_data_round_trips(shared_dir):
    for text in data_texts(shared_dir, "CONNECT_GROUP_MSG"):
        items = parse_connection_info(text)
        assert list(items)[:3] == ["time", "privategroup", "hostname"]
        assert format_connection_info(items.items()) == text


def test_captured_connect_data_as_a_status_record(shared_dir):
    text = data_texts(shared_dir, "CONNECT_GROUP_MSG")[0]
    status = ClientStatus.parse(text)
    assert status.private_group == "#scdisp#localhost"
    assert status.client_name == "scdisp"
    assert status.program_name == "scdispatch"
    assert status.host_name == "vm"
    assert status.ips == "127.0.0.1 "
    assert status.object_count == "11"
    assert status.uptime == ""
    assert connection_info_value(text, "time") == "1970-01-01T00:00:00.0000Z"


def test_republished_reports_are_the_report_plus_items(shared_dir):
    for report, republished in republished_reports(shared_dir):
        assert republished.startswith(report)
        appended = republished[len(report) :]
        items = parse_connection_info("&" + appended)
        assert format_items(items.items()) == appended
        assert list(items)[-1] == "uptime"
        assert items["uptime"] in {format_soh_uptime(15), format_soh_uptime(27)}
        assert ClientStatus.parse(republished).uptime == items["uptime"]


def test_reader_semantics_of_connection_info():
    text = "&a=1&&app=sctestclient&in(name:x,chan:y)&b=x=y&a=2&"
    assert connection_info_value(text, "a") == "1"
    assert connection_info_value(text, "app") == "sctestclient"
    assert connection_info_value(text, "b") == "x=y"
    assert connection_info_value(text, "missing") is None
    assert connection_info_value("&last=open", "last") == "open"
    assert parse_connection_info(text) == {"a": "1", "app": "sctestclient", "b": "x=y"}
    assert format_connection_info([("pid", 7), ("ips", "127.0.0.1 ")]) == "&pid=7&ips=127.0.0.1 &"


def test_client_status_derived_values():
    status = ClientStatus.parse(
        "&privategroup=#x#h&totalmemory=2000&clientmemoryusage=334&receivedmessages=4"
        "&summedmessagequeuesize=10&summedmessagesize=1001&"
    )
    assert status.memory_usage_percent() == 16.7
    assert status.average_message_queue_size() == 2
    assert status.average_message_size() == 250
    empty = ClientStatus.parse("garbage")
    assert empty.client_name == ""
    assert (
        empty.memory_usage_percent(),
        empty.average_message_queue_size(),
        empty.average_message_size(),
    ) == (
        0.0,
        0,
        0,
    )


def test_uptime_notations():
    assert format_soh_uptime(15) == "0:00:00:15"
    assert format_soh_uptime(2 * 86400 + 3 * 3600 + 4 * 60 + 5) == "2:03:04:05"
    assert format_list_uptime(15) == "0:0:0:15"
    assert format_list_uptime(86400 + 61) == "1:0:1:1"
    assert format_list_uptime(-5) == "0:0:0:0"


# --- CONNECT_GROUP_OK_MSG -------------------------------------------------------------------


def test_captured_connect_ok_round_trips(shared_dir):
    for text in data_texts(shared_dir, "CONNECT_GROUP_OK_MSG"):
        ok = ConnectOk.parse(text, "1.1")
        assert ok == ConnectOk(tuple(SHIPPED_GROUPS), "Jakarta git-", (0, 11))
        assert ok.format("1.1") == text


def test_version_1_0_ok_is_the_bare_group_list():
    ok = ConnectOk(("AMPLITUDE", "PICK"), "ignored", (0, 11))
    assert ok.format("1.0") == "AMPLITUDE,PICK"
    assert ConnectOk.parse("AMPLITUDE,PICK", "1.0") == ConnectOk(("AMPLITUDE", "PICK"))
    assert ConnectOk.parse("", "1.0").groups == ()


def test_client_parsing_rules_of_the_1_1_ok():
    text = (
        "no colon here\nUnknown: x\nGroups :ignored\nGroups:  A, B \n"
        "Server-Version:   v 1 \nSchema-Version:  0.9\n"
    )
    ok = ConnectOk.parse(text, "1.1")
    assert ok.groups == ("A", " B")
    assert ok.server_version == "v 1 "
    assert ok.schema_version == (0, 9)
    assert ConnectOk.parse("Groups: A", "1.1") == ConnectOk(("A",))


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("0.11", (0, 11)),
        (" 0.11", (0, 11)),
        ("1. 2", (1, 2)),
        ("0.11 ", None),
        ("0.11x", None),
        ("011", None),
        ("0.70000", None),
        ("-1.0", None),
        ("a.b", None),
    ],
)
def test_schema_version_parsing(text, version):
    assert parse_schema_version(text) == version


def test_encoding_schema_version():
    announced = ConnectOk(("A",), "x", (0, 12))
    assert announced.encoding_schema_version("1.1") == (0, 11)
    assert announced.encoding_schema_version("1.1", (0, 13)) == (0, 12)
    assert announced.encoding_schema_version("1.0") == (0, 0)
    assert ConnectOk(("A",)).encoding_schema_version("1.1") == (0, 0)


@pytest.mark.parametrize(
    ("ok", "version", "reason"),
    [
        (ConnectOk(("A",), "x", (0, 11)), "2.0", "unknown protocol version"),
        (ConnectOk(("A",), " ", (0, 11)), "1.1", "non-blank Server-Version"),
        (ConnectOk(("A",), None, (0, 11)), "1.1", "non-blank Server-Version"),
        (ConnectOk(("A",), "x", None), "1.1", "needs a Schema-Version"),
        (ConnectOk(("A",), "x\ny", (0, 11)), "1.1", "one line"),
    ],
)
def test_connect_ok_that_cannot_be_written(ok, version, reason):
    with pytest.raises(ProtocolError, match=reason):
        ok.format(version)


def test_client_adds_import_and_status_groups_in_front():
    assert with_default_groups(["PICK"]) == ("STATUS_GROUP", "IMPORT_GROUP", "PICK")
    assert with_default_groups(["IMPORT_GROUP", "PICK"]) == ("STATUS_GROUP", "IMPORT_GROUP", "PICK")
    assert with_default_groups(["PICK", "STATUS_GROUP", "IMPORT_GROUP"]) == (
        "PICK",
        "STATUS_GROUP",
        "IMPORT_GROUP",
    )


# --- membership -----------------------------------------------------------------------------


def test_membership_change_data():
    join = MembershipChange("PICK", "#b#localhost", ("#a#localhost", "#b#localhost"))
    assert join.format_join() == "?PICK&#b#localhost?#a#localhost&#b#localhost"
    assert MembershipChange.parse(join.format_join()) == join
    leave = MembershipChange("PICK", "#b#localhost")
    assert leave.format_leave() == "?PICK&#b#localhost?"
    assert MembershipChange.parse(leave.format_leave()) == leave


@pytest.mark.parametrize("text", ["", "PICK&x?", "?PICK", "?PICK?x", "?PICKx&"])
def test_bad_membership_data(text):
    with pytest.raises(ProtocolError):
        MembershipChange.parse(text)


# --- client list ----------------------------------------------------------------------------


def test_captured_client_list_round_trips(shared_dir):
    (text,) = data_texts(shared_dir, "LIST_CONNECTED_CLIENTS_RESPONSE_MSG")
    entries = parse_client_list(text)
    assert [entry.private_group for entry in entries] == [
        "#sctest#localhost",
        "#victim#localhost",
        "#ADMIN#localhost",
    ]
    assert entries[2] == ClientListEntry(
        "#ADMIN#localhost",
        client_type_name(1),
        client_priority_name(1),
        "scadmin",
        "vm",
        "127.0.0.1 ",
        format_list_uptime(0),
    )
    assert entries[0].uptime == format_list_uptime(15)
    assert format_client_list(entries) == text


def test_captured_disconnect_command_names_a_private_group(shared_dir):
    (text,) = data_texts(shared_dir, "CLIENT_DISCONNECT_CMD_MSG")
    assert text == "#victim#localhost"


def test_empty_client_list():
    assert format_client_list([]) == ""
    assert parse_client_list("") == []


@pytest.mark.parametrize("text", ["a?b?c?", "a?b?c?d?e?f?g?h", "a?b?c?d?e?f?g?&", "a?b?c?d?e?f?g?h?"])
def test_bad_client_lists(text):
    with pytest.raises(ProtocolError, match="seven"):
        parse_client_list(text)


def test_text_property_reads_the_data_field():
    message = ServiceMessage(type=MessageType.CLIENT_DISCONNECT_CMD_MSG, data=b"#victim#localhost")
    assert message.text == "#victim#localhost"
