"""Objects of the data model flattened into table rows exactly as SeisComP3's database archive does.

Columns follow the attributes in serialization order: primitives and enumerations by name,
value classes flattened with ``<name>_`` prefixes, a ``<name>_used`` flag after the columns of
an optional value class, split times as a seconds column plus ``<name>_ms``. What SeisComP3
leaves out of its statements is left out of the row here too, because on UPDATE an unmentioned
column keeps its old value (a quirk that existing databases show and tools expect):

* an absent optional value class contributes only ``<name>_used = 0``;
* an absent optional split time contributes only its seconds column (NULL), not ``_ms``.

Values are encoded as SeisComP3 writes them: doubles rounded to 10 significant digits, times
as ``YYYY-MM-DD HH:MM:SS`` in UTC, enumerations by name, arrays in their text form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from scmaster3.datamodel import BaseObject, Time
from scmaster3.datamodel.description import AttributeSpec, ClassSpec, Hint, Model, Version

Row = dict[str, Any]
Flattener = Callable[[BaseObject, Row], None]

_EPOCH = dt.datetime(1970, 1, 1)


def sql_double(value: float) -> float:
    """A double as SeisComP3 stores it: printed with 10 significant digits."""
    return float(f"{value:.10g}")


def sql_time(value: Time) -> str:
    """The seconds part of a time as SeisComP3 writes it (UTC, no fraction)."""
    return (_EPOCH + dt.timedelta(seconds=value.seconds)).strftime("%Y-%m-%d %H:%M:%S")


def _text_time(value: Time) -> str:
    micro = value.microseconds
    fraction = "0000" if micro == 0 else f"{micro:06d}".rstrip("0")
    return (_EPOCH + dt.timedelta(seconds=value.seconds)).strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def _text_double(value: float) -> str:
    return f"{value:.10g}"


def _text_complex(value: complex) -> str:
    return f"({value.real:.10g},{value.imag:.10g})"


_ARRAY_TEXT = {"double_array": _text_double, "complex_array": _text_complex, "time_array": _text_time}


class RowBuilder:
    """Per-class flatteners, compiled once from the description for one schema version."""

    def __init__(self, model: Model, version: Version, column_name: Callable[[str], str]) -> None:
        self._model = model
        self._version = version
        self._column_name = column_name
        self._plans: dict[str, list[Flattener]] = {}

    def row(self, obj: BaseObject) -> Row:
        """The columns SeisComP3 would write for ``obj``, keyed by SQL column name."""
        plan = self._plans.get(type(obj).__name__)
        if plan is None:
            plan = self._plans[type(obj).__name__] = self._compile(type(obj).SPEC, "")
        row: Row = {}
        for flatten in plan:
            flatten(obj, row)
        return row

    def _compile(self, spec: ClassSpec, prefix: str) -> list[Flattener]:
        plan: list[Flattener] = []
        for attr in spec.attributes:
            if attr.present_in(self._version):
                plan.append(self._attribute(attr, prefix))
        return plan

    def _attribute(self, attr: AttributeSpec, prefix: str) -> Flattener:
        key = attr.attr
        column = self._column_name(prefix + attr.name)
        hints = attr.hints_in(self._version)
        if attr.category == "complex":
            inner = self._compile(self._model.classes[attr.type], prefix + attr.name + "_")
            if not attr.optional:

                def nested(obj: BaseObject, row: Row) -> None:
                    value = obj.__dict__[key]
                    for flatten in inner:
                        flatten(value, row)

                return nested
            used = self._column_name(prefix + attr.name + "_used")

            def optional_nested(obj: BaseObject, row: Row) -> None:
                value = obj.__dict__[key]
                if value is None:
                    row[used] = False
                    return
                for flatten in inner:
                    flatten(value, row)
                row[used] = True

            return optional_nested
        if attr.type == "time":
            if hints & Hint.SPLIT_TIME:
                ms_column = self._column_name(prefix + attr.name + "_ms")

                def split_time(obj: BaseObject, row: Row) -> None:
                    value = obj.__dict__[key]
                    if value is None:
                        row[column] = None
                    else:
                        row[column] = sql_time(value)
                        row[ms_column] = value.microseconds

                return split_time

            def plain_time(obj: BaseObject, row: Row) -> None:
                value = obj.__dict__[key]
                row[column] = None if value is None else sql_time(value)

            return plain_time
        encode = _encoder(attr)

        def scalar(obj: BaseObject, row: Row) -> None:
            value = obj.__dict__[key]
            row[column] = None if value is None else encode(value)

        return scalar


def _encoder(attr: AttributeSpec) -> Callable[[Any], Any]:
    if attr.type == "double":
        return sql_double
    if attr.type == "bool":
        # bool, not int: PostgreSQL's BOOLEAN columns take no integers
        return bool
    if attr.category == "enum":
        return str
    if attr.type in _ARRAY_TEXT:
        element = _ARRAY_TEXT[attr.type]
        return lambda values: " ".join(element(v) for v in values)
    return lambda value: value
