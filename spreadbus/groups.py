"""The daemon's group table: who is in which group, and the membership notices (no I/O).

Groups are open and implicit: the first JOIN creates a group, the last LEAVE or disconnect
destroys it. Each group keeps its members in join order (the order data messages are
handed out) and, for membership notices, the list sorted by private group name, as a
single Spread daemon sorts them. The group id is ``(proc_id, time, index)``: the first two
identify this daemon run, the index starts at 1 with the group and grows with every change.

Every change returns a ``Change`` holding the notice already encoded (the single-daemon
"lightweight" form, identical for every receiver), so the daemon encodes it once and hands
the same bytes to all members that asked for membership messages.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from spreadbus import wire

Member = TypeVar("Member", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Change(Generic[Member]):
    """One membership change of one group.

    ``receivers`` are the members after the change (join order) with their ``values``;
    ``notice`` the REG_MEMB_MESS message they get.
    """

    group: bytes
    cause: int
    changed: bytes
    group_id: wire.GroupId
    members: tuple[bytes, ...]
    receivers: tuple[Member, ...]
    notice: bytes


class _Group(Generic[Member]):
    __slots__ = ("name", "index", "members", "values")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.index = 0
        self.members: dict[bytes, Member] = {}
        self.values: tuple[Member, ...] = ()


class GroupTable(Generic[Member]):
    """Groups of one daemon. Members are private group names with an attached value
    (the daemon attaches its connection object, so delivery needs no further lookup)."""

    def __init__(self, proc_id: int, time: int) -> None:
        self.proc_id = proc_id
        self.time = time
        self._groups: dict[bytes, _Group[Member]] = {}
        self._member_groups: dict[bytes, list[bytes]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def receivers(self, group: bytes) -> tuple[Member, ...]:
        """Values of the group's members in join order (empty for an unknown group)."""
        entry = self._groups.get(group)
        return entry.values if entry is not None else ()

    def is_member(self, group: bytes, member: bytes) -> bool:
        entry = self._groups.get(group)
        return entry is not None and member in entry.members

    def join(self, group: bytes, member: bytes, value: Member) -> Change[Member] | None:
        """``member`` joins ``group``; ``None`` if it already is a member."""
        entry = self._groups.get(group)
        if entry is None:
            entry = self._groups[group] = _Group(group)
        elif member in entry.members:
            return None
        entry.members[member] = value
        self._member_groups.setdefault(member, []).append(group)
        return self._changed(entry, wire.CAUSED_BY_JOIN, member)

    def leave(self, group: bytes, member: bytes) -> Change[Member] | None:
        """``member`` leaves ``group``; ``None`` if it was no member."""
        entry = self._groups.get(group)
        if entry is None or member not in entry.members:
            return None
        self._forget(entry, member)
        self._member_groups[member].remove(group)
        if not self._member_groups[member]:
            del self._member_groups[member]
        return self._changed(entry, wire.CAUSED_BY_LEAVE, member)

    def disconnect(self, member: bytes) -> list[Change[Member]]:
        """``member`` is gone: one CAUSED_BY_DISCONNECT change per group it was in, in
        group-name order. Groups left empty are destroyed without a notice."""
        changes = []
        for group in sorted(self._member_groups.pop(member, ())):
            entry = self._groups[group]
            self._forget(entry, member)
            change = self._changed(entry, wire.CAUSED_BY_DISCONNECT, member)
            if change is not None:
                changes.append(change)
        return changes

    def _forget(self, entry: _Group[Member], member: bytes) -> None:
        del entry.members[member]
        if not entry.members:
            del self._groups[entry.name]

    def _changed(self, entry: _Group[Member], cause: int, member: bytes) -> Change[Member] | None:
        entry.values = tuple(entry.members.values())
        if not entry.members:
            return None
        entry.index += 1
        group_id = wire.GroupId(self.proc_id, self.time, entry.index)
        members = tuple(sorted(entry.members))
        notice = wire.encode_membership(cause, entry.name, members, group_id, [[member]])
        return Change(entry.name, cause, member, group_id, members, entry.values, notice)
