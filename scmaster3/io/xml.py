"""SeisComP3's XML archive (sc3ml): documents, notifiers and messages as SeisComP3 writes them.

Layout (spec sc3-datamodel.md section 4): a root element ``seiscomp`` declaring the default
namespace ``http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/<M.m>`` with ``version="M.m"``
(omitted for 0.0) holds one object. A polymorphic object (the message, an attachment, the
notifier's object) is an element named by its class (``notifier_message``, ``Pick``), with
``role="<member>"`` when its member has a name; embedded value classes and child arrays are
elements named by member or role (``time``, ``arrival``). Primitive members go where their hints
say: an attribute (no hint), a child element (``XML_ELEMENT``) or the element's text
(``XML_CDATA``). Empty strings, empty arrays, absent optionals and a zero time are left out
unless ``XML_MANDATORY``. Doubles are written with 10 significant digits, times as
``%Y-%m-%dT%H:%M:%S.%fZ`` with trailing zeros of the microseconds stripped (``.0000`` for none).

Like the binary codec (:mod:`scmaster3.io.binary`) this module interprets the one model
description: per archive version and class it derives, once, a plan of what goes where.

Reading mirrors SeisComP3's reader: the namespace is not checked, only the ``version``
attribute of the container matters; elements and attributes the class does not know are
skipped; a member element is the first one of that name without a ``role``; a polymorphic
member is the first element naming a class derived from the expected one. Unlike SeisComP3 a
value that does not parse is not silently dropped: every defect raises :class:`ArchiveError`
naming the line, the class and the member, and nothing is returned. DTDs are refused and
entities never expanded, so hostile input cannot make the parser hang or explode.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from lxml import etree

from scmaster3.datamodel.description import (
    CURRENT_VERSION,
    UNVERSIONED,
    AttributeSpec,
    ClassSpec,
    Hint,
    Version,
    as_version,
)
from scmaster3.datamodel.timestamp import Time
from scmaster3.datamodel.types import BY_RTTI, CLASSES, ENUMS, MODEL, BaseObject
from scmaster3.io import payload
from scmaster3.io.errors import ArchiveError

NAMESPACE_ROOT = "http://geofon.gfz-potsdam.de/ns/seiscomp3-schema/"
ROOT_TAG = "seiscomp"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_NESTING = 64
"""Deepest nesting of polymorphic objects (a data message inside a data message...) accepted."""

__all__ = [
    "MAX_NESTING",
    "NAMESPACE_ROOT",
    "ArchiveError",
    "decode",
    "decode_document",
    "decode_imported",
    "encode",
    "encode_imported",
    "format_double",
    "format_time",
    "namespace",
    "parse_double",
    "parse_time",
]


def namespace(version: Version) -> str:
    """The default namespace of documents of ``version`` (``.../seiscomp3-schema/0.11``)."""
    return f"{NAMESPACE_ROOT}{version}"


# ---------------------------------------------------------------------------------------------
# Text forms of primitive values (Core::toString / Core::fromString)

_EPOCH = _dt.datetime(1970, 1, 1)
_TIME = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,20}))?Z\s*\Z")
# Possessive quantifiers: values come from input, and backtracking over a long run of digits
# that ends in a bad character would take time quadratic in its length.
_DOUBLE = re.compile(
    r"\s*+[+-]?+(?:(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+|inf(?:inity)?+|nan)\s*+\Z",
    re.IGNORECASE,
)
_INT = re.compile(r"\s*[+-]?\d{1,20}\s*\Z")
_COMPLEX = re.compile(r"\s*\(([^(),]*),([^(),]*)\)")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


def format_double(value: float) -> str:
    """A double as C++ streams with precision 10 write it (``printf("%.10g")``)."""
    return f"{value:.10g}"


def format_time(value: Time) -> str:
    """A time as SeisComP3 writes it: ``2020-01-01T00:00:05.5Z``, ``...:00.0000Z`` for whole seconds."""
    seconds, micro = divmod(value.total_microseconds(), 1_000_000)
    moment = _EPOCH + _dt.timedelta(seconds=seconds)
    fraction = f"{micro:06d}".rstrip("0") if micro else "0000"
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{fraction}Z"
    )


def parse_time(text: str) -> Time:
    """``%Y-%m-%dT%H:%M:%S[.%f]Z`` to a Time; ValueError for anything else."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not a time: {text[:80]!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    moment = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return Time((moment - _EPOCH) // _dt.timedelta(seconds=1), micro)


def parse_double(text: str) -> float:
    """A decimal (or ``inf``/``nan``) double; ValueError for anything else."""
    if _DOUBLE.match(text) is None:
        raise ValueError(f"not a number: {text[:80]!r}")
    return float(text)


def _parse_int(text: str) -> int:
    if _INT.match(text) is None:
        raise ValueError(f"not an integer: {text[:80]!r}")
    value = int(text)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise ValueError(f"integer {value} does not fit in 32 bits")
    return value


def _parse_bool(text: str) -> bool:
    value = _BOOLS.get(text.strip())
    if value is None:
        raise ValueError(f"not a boolean: {text[:80]!r}")
    return value


def _format_complex(value: complex) -> str:
    return f"({value.real:.10g},{value.imag:.10g})"


def _parse_complexes(text: str) -> list[complex]:
    values = []
    pos = 0
    while True:
        match = _COMPLEX.match(text, pos)
        if match is None:
            break
        values.append(complex(parse_double(match[1]), parse_double(match[2])))
        pos = match.end()
    if text[pos:].strip():
        raise ValueError(f"not a list of (re,im) pairs: {text[:80]!r}")
    return values


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _format_enum(value: Any) -> str:
    return value.value


def _identity(value: str) -> str:
    return value


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "string": _identity,
    "int": str,
    "double": format_double,
    "bool": _format_bool,
    "time": format_time,
    "double_array": lambda values: " ".join(map(format_double, values)),
    "complex_array": lambda values: " ".join(map(_format_complex, values)),
    "time_array": lambda values: " ".join(map(format_time, values)),
}

_PARSERS: dict[str, Callable[[str], Any]] = {
    "string": _identity,
    "int": _parse_int,
    "double": parse_double,
    "bool": _parse_bool,
    "time": parse_time,
    "double_array": lambda text: [parse_double(t) for t in text.split()],
    "complex_array": _parse_complexes,
    "time_array": lambda text: [parse_time(t) for t in text.split()],
}


def _enum_parser(enum_name: str) -> Callable[[str], Any]:
    by_name = {member.value: member for member in ENUMS[enum_name]}

    def parse(text: str) -> Any:
        member = by_name.get(text)
        if member is None:
            raise ValueError(f"unknown {enum_name} name {text[:80]!r}")
        return member

    return parse


# ---------------------------------------------------------------------------------------------
# Plans: what each class puts where, for one archive layout

# Where a member lives in XML.
_ATTRIBUTE, _ELEMENT, _CDATA, _VALUE, _OBJECT, _SEQUENCE = range(6)


class _Member(NamedTuple):
    attr: str
    """Python attribute name on the object."""
    name: str
    """XML attribute or element name (the member name; may be empty for polymorphic members)."""
    where: int
    type: str
    """Primitive type, enumeration name or class name."""
    optional: bool
    mandatory: bool
    format: Callable[[Any], str] | None
    parse: Callable[[str], Any] | None
    is_time: bool
    children: bool
    """For polymorphic members: whether the object is written with its child arrays."""


class _Plan(NamedTuple):
    spec: ClassSpec
    cls: type
    public_id: bool
    too_new: bool
    members: tuple[_Member, ...]
    """Every member this layout carries, in serialization order (what the writer walks)."""
    attributes: tuple[_Member, ...]
    cdata: _Member | None
    by_element: dict[str, _Member | str]
    """Element name to the member it holds, or to the element class of a child array."""
    element_members: tuple[_Member, ...]
    polymorphic: tuple[_Member, ...]
    children: tuple[tuple[str, str], ...]
    """(role, element class name) of each child array this layout carries."""
    absent: dict[str, Any]
    """Defaults of the members this layout does not carry."""
    absent_factories: tuple[tuple[str, Callable[[], Any]], ...]


_PUBLIC_ID = _Member(
    "publicID", "publicID", _ATTRIBUTE, "string", False, False, _identity, _identity, False, False
)


def _member(attr: AttributeSpec, version: Version) -> _Member:
    hints = attr.hints_in(version)
    mandatory = bool(hints & Hint.XML_MANDATORY)
    if attr.category == "complex":
        return _Member(
            attr.attr, attr.name, _VALUE, attr.type, attr.optional, mandatory, None, None, False, False
        )
    if attr.category == "object":
        children = not hints & Hint.IGNORE_CHILDS
        return _Member(attr.attr, attr.name, _OBJECT, attr.type, True, False, None, None, False, children)
    if attr.category == "sequence":
        return _Member(attr.attr, attr.name, _SEQUENCE, attr.type, False, False, None, None, False, True)
    if hints & Hint.XML_CDATA:
        where = _CDATA
    elif hints & Hint.XML_ELEMENT:
        where = _ELEMENT
    else:
        where = _ATTRIBUTE
    if attr.category == "enum":
        fmt, parse = _format_enum, _enum_parser(attr.type)
    else:
        fmt, parse = _FORMATTERS[attr.type], _PARSERS[attr.type]
    is_time = attr.type == "time"
    return _Member(
        attr.attr, attr.name, where, attr.type, attr.optional, mandatory, fmt, parse, is_time, False
    )


def _plan(spec: ClassSpec, version: Version, too_new: bool) -> _Plan:
    cls = CLASSES[spec.name]
    public_id = spec.is_datamodel and spec.writes_public_id(version)
    members = tuple(_member(attr, version) for attr in spec.attributes_in(version))
    children = tuple((c.name, c.class_name) for c in spec.children_in(version))
    by_element: dict[str, _Member | str] = {role: class_name for role, class_name in children}
    # A member element takes precedence over a child array of the same name (none exists).
    by_element.update({m.name: m for m in members if m.where in (_ELEMENT, _VALUE)})
    carried = {m.attr for m in members} | ({"publicID"} if public_id else set())
    cdata = [m for m in members if m.where == _CDATA]
    return _Plan(
        spec=spec,
        cls=cls,
        public_id=public_id,
        too_new=too_new and spec.is_datamodel,
        members=members,
        attributes=((_PUBLIC_ID,) if public_id else ()) + tuple(m for m in members if m.where == _ATTRIBUTE),
        cdata=cdata[0] if cdata else None,
        by_element=by_element,
        element_members=tuple(m for m in members if m.where in (_ELEMENT, _VALUE)),
        polymorphic=tuple(m for m in members if m.where in (_OBJECT, _SEQUENCE)),
        children=children,
        absent={name: value for name, value in cls._static_defaults.items() if name not in carried},
        absent_factories=tuple((n, factory) for n, factory in cls._factory_defaults if n not in carried),
    )


class _Plans:
    """The plans of every concrete class for one archive layout, made on first use."""

    def __init__(self, layout: Version, too_new: bool) -> None:
        self.layout = layout
        self.too_new = too_new
        self._by_name: dict[str, _Plan] = {}

    def __getitem__(self, class_name: str) -> _Plan:
        plan = self._by_name.get(class_name)
        if plan is None:
            plan = _plan(MODEL.classes[class_name], self.layout, self.too_new)
            self._by_name[class_name] = plan
        return plan


def _plans(version: Version) -> _Plans:
    """The plans for documents of ``version`` (shared by every version of the same layout)."""
    return _layout_plans(MODEL.layout(version), version > CURRENT_VERSION)


@functools.cache
def _layout_plans(layout: Version, too_new: bool) -> _Plans:
    return _Plans(layout, too_new)


_CONCRETE_DERIVATIONS = frozenset(
    (base, derived) for base, derived in MODEL.derivations if not MODEL.by_rtti[derived].abstract
)
"""(base, derived) RTTI names where an element named ``derived`` is read where ``base`` is
expected. No object can be made of an abstract class, so the reader passes over its elements."""


def _is_type_of(base: str, rtti_name: str) -> bool:
    return (base, rtti_name) in _CONCRETE_DERIVATIONS


def _too_new(spec: ClassSpec) -> ArchiveError:
    return ArchiveError(f"{spec.name} does not exist in archive versions newer than {CURRENT_VERSION}")


# ---------------------------------------------------------------------------------------------
# Writing

_sub_element = etree.SubElement


def _write_object(el: Any, obj: BaseObject, plan: _Plan, plans: _Plans, children: bool) -> None:
    if plan.too_new:
        raise _too_new(plan.spec)
    d = obj.__dict__
    member = _PUBLIC_ID
    try:
        if plan.public_id:
            public_id = d["publicID"]
            if public_id:
                el.set("publicID", public_id)
        for member in plan.members:
            attr, name, where, type_, _, mandatory, fmt, _, is_time, with_children = member
            value = d[attr]
            if value is None:
                continue
            if where <= _CDATA:
                # Core::Time without XML_MANDATORY is written only when it is not zero.
                if is_time and not mandatory and not value.total_microseconds():
                    continue
                text = fmt(value)
                if not text:
                    if not mandatory:
                        continue
                    if where == _ATTRIBUTE:
                        el.set(name, "")
                    elif where == _ELEMENT:
                        _sub_element(el, name)
                elif where == _ATTRIBUTE:
                    el.set(name, text)
                elif where == _ELEMENT:
                    _sub_element(el, name).text = text
                else:
                    el.text = text
            elif where == _VALUE:
                _write_object(_sub_element(el, name), value, plans[type_], plans, False)
            elif where == _OBJECT:
                _write_polymorphic(el, name, value, plans, with_children)
            else:
                for item in value:
                    _write_polymorphic(el, name, item, plans, True)
        if children and plan.children:
            member = None
            arrays = obj._children
            if arrays:
                for role, class_name in plan.children:
                    items = arrays.get(role)
                    if items:
                        element_plan = plans[class_name]
                        for item in items:
                            _write_object(_sub_element(el, role), item, element_plan, plans, True)
    except ArchiveError as exc:
        exc.add_frame(plan.spec.name, member.attr if member else "children")
        raise
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        err = ArchiveError(f"cannot write value as XML: {exc}")
        err.add_frame(plan.spec.name, member.attr if member else "children")
        raise err from exc


def _write_polymorphic(parent: Any, role: str, obj: BaseObject, plans: _Plans, children: bool) -> None:
    cls = type(obj)
    spec = getattr(cls, "SPEC", None)
    if spec is None or spec.abstract or CLASSES.get(spec.name) is not cls:
        raise ArchiveError(f"cannot archive a {cls.__name__}")
    el = _sub_element(parent, spec.rtti_name)
    if role:
        el.set("role", role)
    _write_object(el, obj, plans[spec.name], plans, children)


def _root_element(tag: str, version: Version) -> Any:
    # Only the root carries the namespace: SeisComP3 declares it there and creates every other
    # element without a namespace of its own. The bytes are the same as if each element were
    # qualified (they inherit the default namespace), and building the tree is much cheaper.
    ns = namespace(version)
    root = etree.Element(f"{{{ns}}}{tag}", nsmap={None: ns})
    if version != UNVERSIONED:
        root.set("version", str(version))
    return root


def _serialize(root: Any, formatted: bool, indent: int) -> bytes:
    if formatted:
        etree.indent(root, space=" " * indent)
    # lxml's own declaration quotes with ' where libxml2's, which SeisComP3 writes, uses ".
    return b"".join((XML_DECLARATION, etree.tostring(root, encoding="UTF-8"), b"\n"))


def _check_archivable(obj: Any) -> None:
    cls = type(obj)
    spec = getattr(cls, "SPEC", None)
    if not isinstance(obj, BaseObject) or spec is None or spec.abstract:
        raise ArchiveError(f"cannot archive a {cls.__name__}")


def encode(
    obj: BaseObject,
    version: Version | int | str | None = CURRENT_VERSION,
    *,
    formatted: bool = False,
    indent: int = 2,
) -> bytes:
    """The sc3ml document holding ``obj`` (a message, a notifier, a root such as EventParameters...).

    ``version`` is the schema version to write (members introduced later are left out; 0.0
    writes no ``version`` attribute); ``None`` means the current version, 0.11. ``formatted``
    indents nested elements by ``indent`` spaces, as SeisComP3's formatted output does (2).
    Raises ArchiveError if the object holds something XML cannot carry.
    """
    version = as_version(version)
    _check_archivable(obj)
    if indent < 0:
        raise ValueError("indent must not be negative")
    root = _root_element(ROOT_TAG, version)
    try:
        _write_polymorphic(root, "", obj, _plans(version), True)
    except RecursionError:
        raise ArchiveError("object graph too deep or cyclic") from None
    return _serialize(root, formatted, indent)


def encode_imported(obj: BaseObject, version: Version | int | str | None = CURRENT_VERSION) -> bytes:
    """``obj`` as the root element of its own document, without the ``seiscomp`` wrapper.

    This is the payload of content type ``CONTENT_IMPORTED_XML``: the archive has no root tag,
    so the object's element becomes the document element and carries the namespace and version.
    """
    version = as_version(version)
    _check_archivable(obj)
    spec = type(obj).SPEC
    plans = _plans(version)
    root = _root_element(spec.rtti_name, version)
    try:
        _write_object(root, obj, plans[spec.name], plans, True)
    except RecursionError:
        raise ArchiveError("object graph too deep or cyclic") from None
    return _serialize(root, False, 0)


# ---------------------------------------------------------------------------------------------
# Reading


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


def _fail(reason: str, el: Any) -> ArchiveError:
    line = el.sourceline
    return ArchiveError(f"{reason} (line {line})" if line else reason)


def _missing(member: _Member, el: Any) -> Any:
    """The value of a member whose attribute, element or text is not there."""
    if member.optional:
        return None
    if member.type == "string":
        return ""
    if member.type.endswith("_array"):
        return []
    where = {_ATTRIBUTE: "attribute", _ELEMENT: "element", _VALUE: "element"}.get(member.where, "text")
    raise _fail(f"{where} {member.name!r} missing", el)


def _value(member: _Member, text: str, el: Any) -> Any:
    try:
        return member.parse(text)
    except ValueError as exc:
        raise _fail(str(exc), el) from None


def _candidates(el: Any) -> list[tuple[str, str | None, Any]]:
    """(local name, role, element) of each child element, in document order."""
    return [(_local(child.tag), child.get("role"), child) for child in el if type(child.tag) is str]


def _find_polymorphic(candidates: list[tuple[str, str | None, Any]], role: str, base: str) -> Any:
    for name, element_role, child in candidates:
        if (element_role or "") == role and _is_type_of(base, name):
            return child
    return None


class _Reader:
    """The state of one document being read: its layout's plans and the nesting depth."""

    __slots__ = ("plans", "depth")

    def __init__(self, plans: _Plans) -> None:
        self.plans = plans
        self.depth = 0

    def polymorphic(self, el: Any, children: bool) -> BaseObject:
        if self.depth >= MAX_NESTING:
            raise _fail(f"objects nested deeper than {MAX_NESTING}", el)
        self.depth += 1
        obj = self.object(el, self.plans[BY_RTTI[_local(el.tag)].SPEC.name], children)
        self.depth -= 1
        return obj

    def object(self, el: Any, plan: _Plan, children: bool) -> BaseObject:
        if plan.too_new:
            raise _fail(str(_too_new(plan.spec)), el)
        obj = plan.cls.__new__(plan.cls)
        d = obj.__dict__
        if plan.absent:
            d.update(plan.absent)
        for name, factory in plan.absent_factories:
            d[name] = factory()
        member: _Member | None = _PUBLIC_ID
        try:
            for member in plan.attributes:
                text = el.get(member.name)
                d[member.attr] = _missing(member, el) if text is None else _value(member, text, el)
            member = plan.cdata
            if member is not None:
                text = el.text
                d[member.attr] = _missing(member, el) if text is None else _value(member, text, el)
            by_element = plan.by_element
            if by_element:
                arrays: dict[str, list[Any]] = {}
                plans = self.plans
                for child in el:
                    tag = child.tag
                    if type(tag) is not str:
                        continue
                    local = tag[tag.rfind("}") + 1 :]
                    target = by_element.get(local)
                    if target is None:
                        continue
                    # As in SeisComP3, the first element of a name holds a member, and an
                    # element with a role is never an embedded object or array element (it
                    # belongs to a polymorphic member); primitive elements ignore the role.
                    if type(target) is str:
                        if children and not child.get("role"):
                            member = None
                            item = self.object(child, plans[target], True)
                            item.__dict__["_parent"] = obj
                            arrays.setdefault(local, []).append(item)
                        continue
                    member = target
                    if member.attr in d:
                        continue
                    if member.where == _ELEMENT:
                        d[member.attr] = _value(member, child.text or "", child)
                    elif not child.get("role"):
                        d[member.attr] = self.object(child, plans[member.type], False)
                member = None
                for member in plan.element_members:
                    if member.attr not in d:
                        d[member.attr] = _missing(member, el)
                if arrays:
                    d["_children"] = arrays
            if plan.polymorphic:
                candidates = _candidates(el)
                for member in plan.polymorphic:
                    base = MODEL.classes[member.type].rtti_name
                    if member.where == _OBJECT:
                        found = _find_polymorphic(candidates, member.name, base)
                        d[member.attr] = None if found is None else self.polymorphic(found, member.children)
                    else:
                        d[member.attr] = [
                            self.polymorphic(child, True)
                            for name, role, child in candidates
                            if (role or "") == member.name and _is_type_of(base, name)
                        ]
        except ArchiveError as exc:
            exc.add_frame(plan.spec.name, member.attr if member else "children")
            raise
        return obj


def _parse(data: bytes | bytearray | memoryview) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("an XML archive is read from bytes")
    try:
        tree = etree.fromstring(bytes(data), _PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ArchiveError(f"not well-formed XML: {exc.msg}") from None
    except ValueError as exc:
        raise ArchiveError(f"not an XML document: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ArchiveError("documents with a DTD are not accepted")
    return tree.getroot()


def _document_version(text: str | None, el: Any) -> Version:
    if text is None:
        return UNVERSIONED
    try:
        return Version.parse(text)
    except ValueError:
        raise _fail(f"invalid version attribute {text[:40]!r}", el) from None


def _expected_name(expected: str | type[BaseObject]) -> str:
    name = expected.SPEC.rtti_name if isinstance(expected, type) else expected
    if name not in BY_RTTI:
        raise ValueError(f"unknown class {name!r}")
    return name


def _read_top(
    candidates: list[tuple[str, str | None, Any]], version: Version, expected: str, where: Any
) -> BaseObject:
    found = _find_polymorphic(candidates, "", expected)
    if found is None:
        raise _fail(f"the document holds no {expected} object", where)
    try:
        return _Reader(_plans(version)).polymorphic(found, True)
    except RecursionError:
        raise _fail("document nested too deeply", found) from None


def decode_document(
    data: bytes | bytearray | memoryview, expected: str | type[BaseObject] = "BaseObject"
) -> tuple[BaseObject, Version]:
    """The first object of class ``expected`` (or derived) in an sc3ml document, and the version.

    The container is the ``seiscomp`` root element, or the document itself if the root has
    another name (then the version is 0.0, as in SeisComP3). Raises ArchiveError naming the
    line, class and member of the first defect.
    """
    expected_name = _expected_name(expected)
    root = _parse(data)
    if _local(root.tag) == ROOT_TAG:
        version = _document_version(root.get("version"), root)
        candidates = _candidates(root)
    else:
        version = UNVERSIONED
        candidates = [(_local(root.tag), root.get("role"), root)]
    return _read_top(candidates, version, expected_name, root), version


def decode(
    data: bytes | bytearray | memoryview, expected: str | type[BaseObject] = "BaseObject"
) -> BaseObject:
    """The first object of class ``expected`` (or derived) in an sc3ml document."""
    return decode_document(data, expected)[0]


def decode_imported(
    data: bytes | bytearray | memoryview, expected: str | type[BaseObject] = "BaseObject"
) -> BaseObject:
    """The object that is the document element itself (content type ``CONTENT_IMPORTED_XML``).

    SeisComP3 reads such a document with an empty root name, so the document node is the
    container and the version is 0.0 whatever the element says: members introduced since are
    not read.
    """
    expected_name = _expected_name(expected)
    root = _parse(data)
    candidates = [(_local(root.tag), root.get("role"), root)]
    return _read_top(candidates, UNVERSIONED, expected_name, root)


# ---------------------------------------------------------------------------------------------
# Network payloads


payload.register_format("xml", encode, functools.partial(decode, expected="Message"))
payload.register_format(
    "imported_xml", encode_imported, functools.partial(decode_imported, expected="Message")
)
