"""scsend3's notifiers and routing, checked against what scdispatch sent for the same files.

Sessions 03-08 of the golden capture are scdispatch runs on ``inputs/ep*.xml`` (binary and
XML encoding). Every data message scsend3 plans for the same file and operation, encoded by
the client library as the same client (``#scdisp#localhost`` / ``#scdispx#localhost``), must
equal the golden body byte for byte: notifier order, parent ids, routing, payload and envelope.
The final sync request is compared in test_client_session (its id holds a clock reading).
"""

from __future__ import annotations

import pytest

from scmaster3.client import ClientSession
from scmaster3.datamodel import Comment, EventParameters, Notifier, NotifierMessage, Origin, Pick
from scmaster3.protocol import NetworkMessage, ServiceMessage
from scmaster3.tools.scsend import (
    DEFAULT_ROUTING,
    UsageError,
    main,
    notifiers,
    parse_routing_table,
    plan,
    route,
)
from tests.scmaster3.test_client_session import load_frames, regular

GOLDEN_OK = (
    b"Server-Version: Jakarta git-\nGroups: AMPLITUDE,CONFIG,EVENT,FOCMECH,GUI,INVENTORY,LOCATION,LOGGING,"
    b"MAGNITUDE,PICK,PUBLICATION,QC,ROUTING,SERVICE_PROVIDE,SERVICE_REQUEST\nSchema-Version: 0.11"
)


def scdispatch_session(private_group: str, encoding: str) -> ClientSession:
    session = ClientSession(private_group, encoding=encoding)
    session.connect_request("&")
    ok = ServiceMessage(type=-4, destination=private_group, data=GOLDEN_OK, protocol_version="1.1")
    session.handshake_answer("#_MASTER_#localhost", -4, ok.encode())
    return session


@pytest.mark.parametrize(
    ("trace", "document", "operation", "encoding", "client"),
    [
        ("03_scdispatch_add_binary", "ep_add.xml", "add", "binary", "#scdisp#localhost"),
        ("04_scdispatch_update_binary", "ep_update.xml", "update", "binary", "#scdisp#localhost"),
        ("05_scdispatch_remove_binary", "ep_remove.xml", "remove", "binary", "#scdisp#localhost"),
        ("06_scdispatch_add_xml", "ep2_add.xml", "add", "xml", "#scdispx#localhost"),
        ("07_scdispatch_update_xml", "ep2_update.xml", "update", "xml", "#scdispx#localhost"),
        ("08_scdispatch_remove_xml", "ep2_remove.xml", "remove", "xml", "#scdispx#localhost"),
    ],
)
def test_messages_equal_scdispatch(shared_dir, trace, document, operation, encoding, client):
    from scmaster3.io import xml

    golden = [
        f.data
        for f in regular(load_frames(shared_dir, trace), "C>S")
        if f.mess_type is not None and f.mess_type > 0
    ]
    notifier_messages = golden[:-1]  # the last one is the sync request
    data = (shared_dir / "golden" / "sc3" / "inputs" / document).read_bytes()
    messages = plan(xml.decode(data), operation, DEFAULT_ROUTING)
    session = scdispatch_session(client, encoding)
    produced = [session.message(message, group).body for group, message in messages]
    assert len(produced) == len(notifier_messages)
    for ours, theirs in zip(produced, notifier_messages, strict=True):
        assert NetworkMessage.decode(ours).destination == NetworkMessage.decode(theirs).destination
        assert ours == theirs


def _event_parameters() -> EventParameters:
    root = EventParameters()
    origin = Origin(publicID="Origin/1")
    origin.add(Comment(text="c", id="c1"))
    root.add(Pick(publicID="Pick/1"))
    root.add(origin)
    return root


def test_notifier_order():
    root = _event_parameters()
    added = [(n.operation.value, n.parentID, type(n.object).__name__) for n in notifiers(root, "add")]
    assert added == [
        ("add", "EventParameters", "Pick"),
        ("add", "EventParameters", "Origin"),
        ("add", "Origin/1", "Comment"),
    ]
    removed = [(n.parentID, type(n.object).__name__) for n in notifiers(root, "remove")]
    assert removed == [("EventParameters", "Pick"), ("Origin/1", "Comment"), ("EventParameters", "Origin")]
    with pytest.raises(UsageError):
        notifiers(root, "merge")
    with pytest.raises(UsageError):
        notifiers(NotifierMessage(), "add")


def test_routing():
    root = _event_parameters()
    comment = root.children("origin")[0].children("comment")[0]
    assert route(comment, DEFAULT_ROUTING) == "LOCATION"
    assert route(root, DEFAULT_ROUTING) is None
    table = parse_routing_table("Pick:PICK, Comment:GUI")
    assert table == {"Pick": "PICK", "Comment": "GUI"}
    assert route(comment, table) == "GUI"
    with pytest.raises(UsageError):
        parse_routing_table("Pick")
    # Unrouted objects are skipped; -g sends everything to one group.
    groups = [group for group, _ in plan(root, "add", {"Pick": "PICK"})]
    assert groups == ["PICK"]
    assert [group for group, _ in plan(root, "add", DEFAULT_ROUTING, "GUI")] == ["GUI"] * 3


def test_notifier_message_document_is_sent_as_it_is():
    pick = Pick(publicID="Pick/1")
    message = NotifierMessage(
        attachments=[
            Notifier(parentID="EventParameters", operation="update", object=pick),
            Notifier(parentID="EventParameters", operation="remove", object=Origin(publicID="Origin/1")),
        ]
    )
    planned = plan(message, "add", DEFAULT_ROUTING)
    assert [(g, m.attachments[0].operation.value) for g, m in planned] == [
        ("PICK", "update"),
        ("LOCATION", "remove"),
    ]


def test_bad_input(tmp_path, capsys):
    broken = tmp_path / "broken.xml"
    broken.write_text("<seiscomp><Pick")
    assert main(["-i", str(broken), "-H", "127.0.0.1:1"]) == 1
    assert "not an sc3ml document" in capsys.readouterr().err
    assert main(["-i", str(tmp_path / "missing.xml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_no_bus(shared_dir, capsys):
    document = shared_dir / "golden" / "sc3" / "inputs" / "ep_add.xml"
    assert main(["-i", str(document), "-H", "127.0.0.1:1"]) == 1
    assert "could not connect" in capsys.readouterr().err
