"""The INSERT rows of an SQLite ``.dump``, and the same view of a database this project wrote."""

import re
from pathlib import Path

import sqlalchemy as sa

_INSERT = re.compile(r"^INSERT INTO (\"?)(\w+)\1 VALUES\((.*)\);$")
_TOKEN = re.compile(r"'((?:[^']|'')*)'|(NULL)|([-+0-9.eE]+)")

# Clock values: when the row was written, not what was written.
_VARYING = {"Object": {1}, "Meta": set()}


def parse_dump(path: Path) -> dict[str, list[tuple]]:
    """Rows by table, values as Python values, in dump order."""
    tables: dict[str, list[tuple]] = {}
    for line in path.read_text().splitlines():
        match = _INSERT.match(line)
        if not match or match.group(2) == "sqlite_sequence":
            continue
        values = []
        for text, null, number in _TOKEN.findall(match.group(3)):
            if null:
                values.append(None)
            elif number:
                values.append(float(number) if any(c in number for c in ".eE") else int(number))
            else:
                values.append(text.replace("''", "'"))
        tables.setdefault(match.group(2), []).append(tuple(values))
    return {table: [_stable(table, row) for row in rows] for table, rows in tables.items()}


def read_rows(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every non-empty table of an SQLite database, raw and in ``.dump`` order."""
    tables: dict[str, list[tuple]] = {}
    with engine.connect() as connection:
        names = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND name != 'sqlite_sequence'").scalars().all()
        for name in names:
            rows = connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY rowid').all()
            if rows:
                tables[name] = [_stable(name, tuple(row)) for row in rows]
    return tables


def _stable(table: str, row: tuple) -> tuple:
    if table == "Object":
        return row[:1]
    if table == "Meta":
        return row if row[0] != "Creation-Time" else row[:1]
    if table == "PublicObject":
        return row
    # class tables: _oid, _parent_oid, _last_modified, ... (Reading has no _last_modified)
    return row[:2] + row[3:] if len(row) > 2 and _looks_like_timestamp(row[2]) else row


def _looks_like_timestamp(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value) is not None
