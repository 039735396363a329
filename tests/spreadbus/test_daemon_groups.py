"""The daemon's group table, without sockets, against the golden membership notices."""

from spreadbus import wire
from spreadbus.groups import GroupTable

TIME = 1795312280  # the recorded daemon's ring time, so notices compare byte for byte


def recorded_frames(items, conn):
    return [i.data for i in items if i.conn == conn and i.kind == "D>C" and i.data and len(i.data) > 48]


def test_notices_equal_the_recorded_ones(golden_traces):
    # trace 11: bob joins, alice joins, carol joins, carol and alice disconnect
    table = GroupTable(0x7F000001, TIME)
    bob, alice, carol = b"#bob#localhost", b"#alice#localhost", b"#carol#localhost"
    changes = [
        table.join(b"grpA", bob, "A"),
        table.join(b"grpA", alice, "B"),
        table.join(b"grpA", carol, "C"),
        *table.disconnect(carol),
        *table.disconnect(alice),
    ]
    assert [c.notice for c in changes] == recorded_frames(golden_traces["11_join_second_member"], "A")
    assert changes[2].members == (alice, bob, carol)  # sorted by name, not join order
    assert changes[2].receivers == ("A", "B", "C")  # join order, for delivery
    assert [c.group_id.index for c in changes] == [1, 2, 3, 4, 5]


def test_duplicates_leaves_and_destruction():
    table = GroupTable(1, 2)
    assert table.join(b"g", b"#a#d", 1).cause == wire.CAUSED_BY_JOIN
    assert table.join(b"g", b"#a#d", 1) is None  # duplicate join: nothing
    assert table.leave(b"g", b"#b#d") is None and table.leave(b"nope", b"#a#d") is None
    assert table.is_member(b"g", b"#a#d") and not table.is_member(b"g", b"#b#d")
    assert table.leave(b"g", b"#a#d") is None  # the last member: group destroyed, no notice
    assert len(table) == 0 and table.receivers(b"g") == ()
    assert table.join(b"g", b"#a#d", 1).group_id == wire.GroupId(1, 2, 1)  # a new group


def test_disconnect_touches_every_group_in_name_order():
    table = GroupTable(1, 2)
    for group in (b"zeta", b"alpha", b"solo"):
        table.join(group, b"#x#d", "x")
    table.join(b"zeta", b"#y#d", "y")
    table.join(b"alpha", b"#y#d", "y")
    changes = table.disconnect(b"#x#d")
    assert [c.group for c in changes] == [b"alpha", b"zeta"]  # "solo" vanished silently
    assert all(c.cause == wire.CAUSED_BY_DISCONNECT and c.receivers == ("y",) for c in changes)
    assert len(table) == 2 and table.disconnect(b"#x#d") == []
    body = wire.decode_membership(changes[0].notice[48 + 32 :])
    assert body.vs_sets == ((b"#x#d",),) and body.group_id.index == 3
