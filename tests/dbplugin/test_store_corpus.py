"""Every tabled class added, updated and removed on every backend, checked column by column.

The expected rows are derived here from the description's column list (``TableSpec``) and the
rules of the database mapping, independently of the row builder, which walks attributes:

* a column whose path crosses an absent optional value class is not written: NULL after an
  ADD, its old value after an UPDATE; the ``_used`` column says whether the class is present;
* an absent optional split time writes NULL seconds and leaves ``_ms`` alone;
* doubles keep 10 significant digits, times are UTC seconds plus ``_ms`` microseconds.
"""

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dbplugin.rows import sql_double, sql_time
from dbplugin.schema import build_schema, create_schema
from dbplugin.store import NotifierRejected, NotifierStore
from dbplugin.url import parse_address
from scmaster3.datamodel import CLASSES, CURRENT_VERSION, ENUMS, MODEL, Notifier, Time

UNWRITTEN = object()


def _value(spec, seed: int, attr):
    if attr.category == "complex":
        return _fill(MODEL.classes[attr.type], seed, optional_set=True)
    if attr.category == "enum":
        members = list(ENUMS[attr.type])
        return members[seed % len(members)]
    return {
        "string": lambda: chr(ord("a") + seed % 26),
        "int": lambda: seed % 100 + 1,
        "double": lambda: seed + 0.123456789012,
        "bool": lambda: seed % 2 == 0,
        "time": lambda: Time(1577836800 + seed, 250000 + seed),
        "double_array": lambda: [1.5, seed + 0.25],
        "complex_array": lambda: [complex(1, -2), complex(seed, 0.5)],
        "time_array": lambda: [Time(1577836800, 0), Time(1577836801 + seed, 500)],
    }[attr.type]()


def _fill(spec, seed: int, optional_set: bool):
    values = {}
    for number, attr in enumerate(spec.attributes):
        if attr.optional and not optional_set:
            values[attr.attr] = None
        else:
            values[attr.attr] = _value(spec, seed + number, attr)
    obj = CLASSES[spec.name](**values)
    if spec.has_public_id:
        obj.publicID = f"{spec.name}/{seed}"
    return obj


def _navigate(obj, path):
    """The value at ``path`` or UNWRITTEN when an absent optional value class is crossed."""
    value = obj
    for name in path:
        if value is None:
            return UNWRITTEN
        value = getattr(value, name)
    return value


def _column_path(spec, column):
    """Attribute names along a column's flattened path (``time_value`` -> ("time", "value"))."""
    path, current, rest = [], spec, column.attr
    while rest:
        for attr in current.attributes:
            if rest == attr.name or rest.startswith(attr.name + "_"):
                path.append(attr.name)
                rest = rest[len(attr.name) + 1:]
                if attr.category == "complex":
                    current = MODEL.classes[attr.type]
                break
        else:
            raise AssertionError(f"no path for {column.attr}")
    return path


def _text(value):
    if isinstance(value, Time):
        micro = value.microseconds
        fraction = "0000" if micro == 0 else f"{micro:06d}".rstrip("0")
        return dt.datetime.fromtimestamp(value.seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"
    if isinstance(value, complex):
        return f"({value.real:.10g},{value.imag:.10g})"
    return f"{value:.10g}"


def expected_columns(spec, obj, previous):
    """Column values a SeisComP3-compatible writer leaves, given the row before (or None)."""
    row = dict(previous or {})
    for column in spec.table.columns_in(CURRENT_VERSION):
        path = _column_path(spec, column)
        value = _navigate(obj, path[:-1]) if column.kind == "used" else _navigate(obj, path)
        if column.kind == "used":
            if value is UNWRITTEN or value is None:
                # inside an absent optional value class: the column default on ADD
                if previous is None:
                    row[column.name] = 0
            else:
                row[column.name] = int(getattr(value, path[-1]) is not None)
            continue
        if value is UNWRITTEN or (column.kind == "microseconds" and value is None):
            if previous is None:
                row[column.name] = None
            continue
        if value is None:
            row[column.name] = None
        elif column.kind == "microseconds":
            row[column.name] = value.microseconds
        elif column.kind == "time":
            row[column.name] = sql_time(value)
        elif column.kind == "double":
            row[column.name] = sql_double(value)
        elif column.kind == "bool":
            row[column.name] = int(value)
        elif column.kind == "int":
            row[column.name] = value
        elif column.kind in ("double_array", "complex_array", "time_array"):
            row[column.name] = " ".join(_text(v) for v in value)
        else:
            row[column.name] = str(value)
    return row


def _normalize(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _stored(connection, schema, spec, oid):
    table = schema.class_tables[spec.name]
    row = connection.execute(sa.select(table).where(table.c._oid == oid)).mappings().first()
    if row is None:
        return None
    prefix = schema.column_prefix
    return {
        column.name: _normalize(row[schema.identifier(prefix + column.name)])
        for column in spec.table.columns_in(CURRENT_VERSION)
    }


def _parent_chain(spec):
    """(parent spec, child spec) pairs from a root down to ``spec``'s parent, via public parents."""
    for parent in spec.parents:
        parent_spec = MODEL.classes[parent.class_name]
        if parent_spec.root:
            return [parent_spec]
        if parent_spec.has_public_id:
            return [*_parent_chain(parent_spec), parent_spec]
    raise AssertionError(f"{spec.name} has no public parent")


@pytest.fixture
def engine(empty_database):
    engine = sa.create_engine(parse_address(empty_database.parameters, service=empty_database.service).url)
    yield engine
    engine.dispose()


def test_every_class_added_updated_removed(engine):
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    store = NotifierStore(schema, CURRENT_VERSION)
    find_oid = sa.select(schema.public_object.c._oid).where(schema.public_id_column == sa.bindparam("p"))
    for seed, spec in enumerate(MODEL.tables()):
        base = 1000 * (seed + 1)
        chain = _parent_chain(spec)
        parent_id = chain[0].fixed_public_id
        with engine.begin() as connection:
            for number, link in enumerate(chain[1:]):
                ancestor = _fill(link, base + 100 * number, optional_set=False)
                store.apply(connection, Notifier(parentID=parent_id, operation="add", object=ancestor))
                parent_id = ancestor.publicID
        added = _fill(spec, base + 500, optional_set=True)
        with engine.begin() as connection:
            store.apply(connection, Notifier(parentID=parent_id, operation="add", object=added))
        with engine.connect() as connection:
            parent_oid = connection.execute(find_oid, {"p": parent_id}).scalar()
            table = schema.class_tables[spec.name]
            # the newest row below that parent (an earlier class may have put one there too)
            oid = connection.execute(
                sa.select(sa.func.max(table.c._oid)).where(table.c._parent_oid == parent_oid)
            ).scalar()
            after_add = _stored(connection, schema, spec, oid)
        expected = expected_columns(spec, added, None)
        assert after_add == expected, f"{spec.name} after ADD"

        # UPDATE: new values, every optional member absent; index members kept so that a
        # non-public object is found again.
        updated = _fill(spec, base + 700, optional_set=False)
        for name in spec.index_attributes:
            setattr(updated, name, getattr(added, name))
        # Members with their own index hint inside an embedded value class are part of the
        # WHERE clause too (ArclinkRequestLine.status): an update must repeat them.
        for column in spec.table.columns:
            path = _column_path(spec, column)
            if column.index_hint and len(path) > 1:
                setattr(_navigate(updated, path[:-1]), path[-1], _navigate(added, path))
        if spec.has_public_id:
            updated.publicID = added.publicID
        update = Notifier(parentID=parent_id, operation="update", object=updated)
        if spec.has_public_id or spec.index_attributes:
            with engine.begin() as connection:
                store.apply(connection, update)
            with engine.connect() as connection:
                after_update = _stored(connection, schema, spec, oid)
            assert after_update == expected_columns(spec, updated, after_add), f"{spec.name} after UPDATE"
        else:
            with engine.begin() as connection, pytest.raises(NotifierRejected, match="no index"):
                store.apply(connection, update)
            updated = added

        with engine.begin() as connection:
            store.apply(connection, Notifier(parentID=parent_id, operation="remove", object=updated))
        with engine.connect() as connection:
            assert _stored(connection, schema, spec, oid) is None, f"{spec.name} after REMOVE"
            assert connection.execute(
                sa.select(sa.func.count()).select_from(schema.object).where(schema.object.c._oid == oid)
            ).scalar() == 0


def test_add_writes_children_top_down_and_remove_leaves_them(engine):
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    store = NotifierStore(schema, CURRENT_VERSION)
    origin = CLASSES["Origin"](publicID="Origin/with-children", time=CLASSES["TimeQuantity"](value=Time(1577836805, 0)))
    for number in range(3):
        origin.add(CLASSES["Arrival"](pickID=f"Pick/{number}", phase=CLASSES["Phase"](code="P"), weight=1.0))
    origin.add(CLASSES["Comment"](id="note", text="kept"))
    with engine.begin() as connection:
        store.apply(connection, Notifier(parentID="EventParameters", operation="add", object=origin))
    arrival, comment = schema.class_tables["Arrival"], schema.class_tables["Comment"]
    pick_id = arrival.c[schema.column_name("pickID")]
    find = sa.select(schema.public_object.c._oid).where(schema.public_id_column == "Origin/with-children")
    with engine.connect() as connection:
        origin_oid = connection.execute(find).scalar()
        rows = connection.execute(sa.select(arrival.c._oid, arrival.c._parent_oid, pick_id).order_by(arrival.c._oid)).all()
        assert [(r[1], r[2]) for r in rows] == [(origin_oid, f"Pick/{n}") for n in range(3)]
        assert rows[0][0] > origin_oid  # parent first
        assert connection.execute(sa.select(comment.c._parent_oid)).scalar() == origin_oid
    with engine.begin() as connection:
        store.apply(connection, Notifier(parentID="EventParameters", operation="remove", object=origin))
    with engine.connect() as connection:
        assert connection.execute(find).scalar() is None
        # SeisComP3 removes no children: senders remove them first; these stay as orphans
        assert connection.execute(sa.select(sa.func.count()).select_from(arrival)).scalar() == 3


def test_rejections_say_why(engine):
    schema = build_schema(engine.dialect.name)
    create_schema(engine, schema)
    store = NotifierStore(schema, CURRENT_VERSION)
    pick = CLASSES["Pick"](publicID="Pick/dup")
    with engine.begin() as connection:
        store.apply(connection, Notifier(parentID="EventParameters", operation="add", object=pick))
    with engine.begin() as connection, pytest.raises(NotifierRejected, match="stored already"):
        store.apply(connection, Notifier(parentID="EventParameters", operation="add", object=pick))
    with engine.begin() as connection, pytest.raises(NotifierRejected, match="parent 'Origin/none'"):
        store.apply(connection, Notifier(parentID="Origin/none", operation="add",
                                         object=CLASSES["Arrival"](pickID="Pick/dup")))
    with engine.begin() as connection, pytest.raises(NotifierRejected, match="to update is not stored"):
        store.apply(connection, Notifier(parentID="EventParameters", operation="update",
                                         object=CLASSES["Pick"](publicID="Pick/other")))
    with engine.begin() as connection:
        # removing what is not there is a no-op, as in SeisComP3
        store.apply(connection, Notifier(parentID="EventParameters", operation="remove",
                                         object=CLASSES["Pick"](publicID="Pick/other")))
