"""Notifiers written into a SeisComP3 database: ADD, UPDATE and REMOVE as SeisComP3 performs them.

The statements differ from SeisComP3's in one respect only: the transactions. SeisComP3 commits
every object on its own; here the caller decides (a whole batch of messages per transaction),
and each notifier runs inside a savepoint only when a batch has to be replayed after a
failure. The rows that result are the rows SeisComP3 would leave, quirks included:

* an UPDATE mentions only what SeisComP3 mentions, so the sub-columns of an optional value
  class that became absent keep their old values beside ``<name>_used = 0``;
* a REMOVE deletes the object's own rows and not its children's, which stay as orphans when
  the sender did not remove them first, as SeisComP3's senders do;
* an UPDATE or REMOVE that finds no row succeeds without effect.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from dbplugin.rows import RowBuilder
from dbplugin.schema import ROOT_PUBLIC_IDS, Schema
from scmaster3.datamodel import BaseObject, Notifier, Object, PublicObject
from scmaster3.datamodel.description import Model, Version, load_model


class NotifierRejected(Exception):
    """The database cannot take this notifier for what it says (not for being unreachable)."""


class NotifierStore:
    """Applies notifiers on a connection that the caller holds in a transaction.

    Within one transaction the store remembers the oids of the public objects it has written
    or looked up, so that a batch of messages does not ask for the same parent again; the
    caller calls ``forget`` whenever a transaction ends, because a rollback voids them and
    other writers may change the database between transactions.
    """

    def __init__(self, schema: Schema, version: Version, model: Model | None = None) -> None:
        model = model or load_model()
        self.schema = schema
        self.version = version
        self._rows = RowBuilder(model, version, schema.column_name)
        self._public_id = schema.public_id_column
        self._find_public = (
            sa.select(schema.public_object.c._oid).where(self._public_id == sa.bindparam("public_id"))
        )
        self._known: dict[str, int] = {}
        self._insert_object = schema.object.insert()
        self._insert_public = schema.public_object.insert()
        self._inserts = {name: table.insert() for name, table in schema.class_tables.items()}
        self._where_columns: dict[str, frozenset[str]] = {}
        for class_name, table in schema.class_tables.items():
            spec = model.classes[class_name].table
            assert spec is not None and table is not None
            self._where_columns[class_name] = frozenset(
                schema.column_name(c.name) for c in spec.columns_in(version) if c.index_hint
            )

    def forget(self) -> None:
        """Drop what was learnt in the transaction that just ended (the roots' oids stay:
        they are bootstrap rows that nothing removes)."""
        roots = {key: self._known[key] for key in ROOT_PUBLIC_IDS if key in self._known}
        self._known.clear()
        self._known.update(roots)

    def apply(self, connection: sa.Connection, notifier: Notifier, check_duplicates: bool = True) -> None:
        """Execute one notifier; NotifierRejected when its content cannot be stored.

        Without ``check_duplicates`` an ADD of a public object that exists already is left to
        the unique key of ``PublicObject``, which fails the statement (and the transaction)
        instead of raising NotifierRejected: one query less for callers that can retry.
        """
        obj = notifier.object
        if obj is None:
            return
        operation = notifier.operation.value
        if operation == "add":
            self._add(connection, notifier.parentID, obj, check_duplicates)
        elif operation == "update":
            self._update(connection, notifier.parentID, obj)
        elif operation == "remove":
            self._remove(connection, notifier.parentID, obj)

    def apply_all(self, connection: sa.Connection, notifiers: Iterable[Notifier], check_duplicates: bool = True) -> None:
        """Execute notifiers in order.

        Without ``check_duplicates``, consecutive ADDs of objects of one class below one parent
        (a stream of picks into EventParameters) are written together: their rows are what one
        ADD after the other leaves, since they are independent of each other; a duplicate among
        them fails the statement as it would fail one of them.
        """
        if check_duplicates:
            for notifier in notifiers:
                self.apply(connection, notifier, check_duplicates)
            return
        run: list[Object] = []
        run_key: tuple[str, type] | None = None
        for notifier in notifiers:
            obj = notifier.object
            key = (notifier.parentID, type(obj))
            if notifier.operation.value == "add" and isinstance(obj, Object):
                if key != run_key and run:
                    self._add_run(connection, run_key[0], run)
                    run = []
                run_key = key
                run.append(obj)
                continue
            if run:
                self._add_run(connection, run_key[0], run)
                run, run_key = [], None
            self.apply(connection, notifier, check_duplicates)
        if run:
            self._add_run(connection, run_key[0], run)

    def _add_run(self, connection: sa.Connection, parent_id: str, objects: list[Object]) -> None:
        table = self._table(objects[0])
        self._insert_siblings(connection, table, self._parent_oid(connection, parent_id, objects[0]), objects)

    # -- lookups ------------------------------------------------------------------------------

    def _oid_of(self, connection: sa.Connection, public_id: str) -> int | None:
        oid = self._known.get(public_id)
        if oid is None:
            oid = connection.execute(self._find_public, {"public_id": public_id}).scalar()
            if oid is not None:
                self._known[public_id] = oid
        return oid

    def _parent_oid(self, connection: sa.Connection, parent_id: str, obj: BaseObject) -> int:
        oid = self._oid_of(connection, parent_id)
        if oid is None:
            raise NotifierRejected(f"parent {parent_id!r} of {type(obj).__name__} {_describe(obj)} is not stored")
        return oid

    def _table(self, obj: BaseObject) -> sa.Table:
        table = self.schema.class_tables.get(type(obj).__name__)
        if table is None:
            raise NotifierRejected(f"{type(obj).__name__} objects have no table")
        return table

    def _locate(self, connection: sa.Connection, table: sa.Table, parent_oid: int, obj: BaseObject, row: dict) -> int | None:
        """The oid of a stored non-public object, found by its index columns as SeisComP3 does."""
        keys = self._where_columns[type(obj).__name__] or row.keys()
        query = sa.select(table.c._oid).where(table.c._parent_oid == parent_oid)
        for name in sorted(keys):
            if name not in row:
                continue
            value = row[name]
            query = query.where(table.c[name].is_(None) if value is None else table.c[name] == value)
        return connection.execute(query.limit(1)).scalar()

    # -- operations ---------------------------------------------------------------------------

    def _add(self, connection: sa.Connection, parent_id: str, obj: BaseObject, check_duplicates: bool) -> None:
        if not isinstance(obj, Object):
            raise NotifierRejected(f"{type(obj).__name__} is not a data-model object")
        table = self._table(obj)
        if check_duplicates and isinstance(obj, PublicObject) and self._oid_of(connection, obj.publicID) is not None:
            raise NotifierRejected(f"{type(obj).__name__} {obj.publicID!r} is stored already")
        parent_oid = self._parent_oid(connection, parent_id, obj)
        self._insert_tree(connection, table, parent_oid, obj)

    def _insert_tree(self, connection: sa.Connection, table: sa.Table, parent_oid: int, obj: Object) -> None:
        self._insert_siblings(connection, table, parent_oid, [obj])

    def _insert_siblings(
        self, connection: sa.Connection, table: sa.Table, parent_oid: int, objects: list[Object]
    ) -> None:
        """Objects of one class below one parent, then their children, level by level.

        The rows are those SeisComP3's object writer leaves (each object after its parent);
        siblings share their statements, so an Origin with 30 Arrivals costs a handful of
        round trips instead of sixty.
        """
        oids = self._new_oids(connection, len(objects))
        public = [
            {"_oid": oid, self._public_id.name: obj.publicID}
            for oid, obj in zip(oids, objects, strict=True)
            if isinstance(obj, PublicObject)
        ]
        if public:
            connection.execute(self._insert_public, public)
            self._known.update((row[self._public_id.name], row["_oid"]) for row in public)
        # One executemany per set of columns: rows of one class differ where optional value
        # classes are absent, whose columns SeisComP3 does not mention.
        by_columns: dict[frozenset[str], list[dict]] = {}
        for oid, obj in zip(oids, objects, strict=True):
            row = self._rows.row(obj)
            row["_oid"] = oid
            row["_parent_oid"] = parent_oid
            by_columns.setdefault(frozenset(row), []).append(row)
        insert = self._inserts[type(objects[0]).__name__]
        for rows in by_columns.values():
            connection.execute(insert, rows)
        for oid, obj in zip(oids, objects, strict=True):
            children: dict[str, list[Object]] = {}
            for child_spec, child in obj.iter_children():
                if child_spec.present_in(self.version):
                    children.setdefault(child_spec.class_name, []).append(child)
            for class_name, group in children.items():
                self._insert_siblings(connection, self.schema.class_tables[class_name], oid, group)

    def _new_oids(self, connection: sa.Connection, count: int) -> list[int]:
        """``count`` new ``Object`` rows, their oids in increasing order."""
        if count == 1 or not connection.dialect.insert_returning:
            # MySQL has no RETURNING, and the ids of a multi-row insert are consecutive there
            # only under some auto-increment lock modes: one insert per object.
            return [connection.execute(self._insert_object).inserted_primary_key[0] for _ in range(count)]
        rows = [{"_timestamp": sa.func.current_timestamp()}] * count
        statement = self.schema.object.insert().values(rows).returning(self.schema.object.c._oid)
        return sorted(connection.execute(statement).scalars())

    def _update(self, connection: sa.Connection, parent_id: str, obj: BaseObject) -> None:
        table = self._table(obj)
        parent_oid = self._parent_oid(connection, parent_id, obj)
        row = self._rows.row(obj)
        if isinstance(obj, PublicObject):
            oid = self._oid_of(connection, obj.publicID)
            if oid is None:
                raise NotifierRejected(f"{type(obj).__name__} {obj.publicID!r} to update is not stored")
            if row:
                connection.execute(
                    table.update().where(table.c._oid == oid, table.c._parent_oid == parent_oid).values(row)
                )
            return
        keys = self._where_columns[type(obj).__name__]
        if not keys:
            raise NotifierRejected(f"{type(obj).__name__} has no index: SeisComP3 cannot update it either")
        values = {name: value for name, value in row.items() if name not in keys}
        if not values:
            return
        query = table.update().where(table.c._parent_oid == parent_oid)
        for name in sorted(keys):
            value = row.get(name)
            query = query.where(table.c[name].is_(None) if value is None else table.c[name] == value)
        connection.execute(query.values(values))

    def _remove(self, connection: sa.Connection, parent_id: str, obj: BaseObject) -> None:
        table = self._table(obj)
        if isinstance(obj, PublicObject):
            oid = self._oid_of(connection, obj.publicID)
        else:
            parent_oid = self._oid_of(connection, parent_id)
            oid = None if parent_oid is None else self._locate(connection, table, parent_oid, obj, self._rows.row(obj))
        if oid is None:
            return
        if isinstance(obj, PublicObject):
            self._known.pop(obj.publicID, None)
        connection.execute(table.delete().where(table.c._oid == oid))
        if isinstance(obj, PublicObject):
            connection.execute(self.schema.public_object.delete().where(self.schema.public_object.c._oid == oid))
        connection.execute(self.schema.object.delete().where(self.schema.object.c._oid == oid))


def _describe(obj: BaseObject) -> str:
    return repr(obj.publicID) if isinstance(obj, PublicObject) else repr(obj)[:120]
