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
_DOUBLE = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\s*\Z", re.IGNORECASE
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
# Plans: what each class puts where, for one archive version

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
    members: tuple[_Member, ...]
    children: tuple[tuple[str, str], ...]
    """(role, element class name) of each child array this version carries."""
    absent: dict[str, Any]
    """Defaults of the members this version does not carry."""
    absent_factories: tuple[tuple[str, Callable[[], Any]], ...]
    too_new: bool


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
    return _Member(
        attr.attr,
        attr.name,
        where,
        attr.type,
        attr.optional,
        mandatory,
        fmt,
        parse,
        attr.type == "time",
        False,
    )


def _plan(spec: ClassSpec, version: Version) -> _Plan:
    cls = CLASSES[spec.name]
    members = []
    public_id = spec.is_datamodel and spec.writes_public_id(version)
    for attr in spec.attributes_in(version):
        members.append(_member(attr, version))
    carried = {m.attr for m in members} | ({"publicID"} if public_id else set())
    absent = {name: value for name, value in cls._static_defaults.items() if name not in carried}
    factories = tuple((name, factory) for name, factory in cls._factory_defaults if name not in carried)
    return _Plan(
        spec=spec,
        cls=cls,
        public_id=public_id,
        members=tuple(members),
        children=tuple((c.name, c.class_name) for c in spec.children_in(version)),
        absent=absent,
        absent_factories=factories,
        too_new=spec.is_datamodel and version > CURRENT_VERSION,
    )


class _Plans:
    """The plans of every concrete class for one archive version, made on first use."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.namespace = namespace(version)
        self._by_name: dict[str, _Plan] = {}

    def __getitem__(self, class_name: str) -> _Plan:
        plan = self._by_name.get(class_name)
        if plan is None:
            plan = self._by_name[class_name] = _plan(MODEL.classes[class_name], self.version)
        return plan


_PLANS: dict[Version, _Plans] = {}


def _plans(version: Version) -> _Plans:
    plans = _PLANS.get(version)
    if plans is None:
        plans = _PLANS[version] = _Plans(version)
    return plans


_derived_cache: dict[tuple[str, str], bool] = {}


def _is_type_of(base: str, rtti_name: str) -> bool:
    """Whether ``rtti_name`` names a concrete class that is ``base`` or derives from it."""
    key = (base, rtti_name)
    found = _derived_cache.get(key)
    if found is None:
        cls = BY_RTTI.get(rtti_name)
        found = cls is not None and not cls.SPEC.abstract and MODEL.is_type_of(base, rtti_name)
        if len(_derived_cache) < 4096:  # names come from input: keep the cache bounded
            _derived_cache[key] = found
    return found


# ---------------------------------------------------------------------------------------------
# Writing

_sub_element = etree.SubElement


def _write_object(el: Any, obj: BaseObject, plan: _Plan, plans: _Plans, children: bool) -> None:
    if plan.too_new:
        raise ArchiveError(
            f"{plan.spec.name} does not exist in archive versions newer than {CURRENT_VERSION}"
        )
    d = obj.__dict__
    member = _PUBLIC_ID
    try:
        if plan.public_id:
            public_id = d["publicID"]
            if public_id:
                el.set("publicID", public_id)
        for member in plan.members:
            value = d[member.attr]
            if value is None:
                continue
            where = member.where
            if where <= _CDATA:
                if member.is_time and not member.mandatory and not value.total_microseconds():
                    continue
                text = member.format(value)
                if not text:
                    if not member.mandatory:
                        continue
                    if where == _ATTRIBUTE:
                        el.set(member.name, "")
                    elif where == _ELEMENT:
                        _sub_element(el, member.name)
                elif where == _ATTRIBUTE:
                    el.set(member.name, text)
                elif where == _ELEMENT:
                    _sub_element(el, member.name).text = text
                else:
                    el.text = text
            elif where == _VALUE:
                _write_object(_sub_element(el, member.name), value, plans[member.type], plans, False)
            elif where == _OBJECT:
                _write_polymorphic(el, member.name, value, plans, member.children)
            else:
                for item in value:
                    _write_polymorphic(el, member.name, item, plans, True)
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


def _root_element(tag: str, version: Version, role: str = "") -> Any:
    # Only the root carries the namespace: SeisComP3 declares it there and creates every other
    # element without a namespace of its own. The bytes are the same as if each element were
    # qualified (they inherit the default namespace), and building the tree is much cheaper.
    ns = namespace(version)
    root = etree.Element(f"{{{ns}}}{tag}", nsmap={None: ns})
    if role:
        root.set("role", role)
    if version != UNVERSIONED:
        root.set("version", str(version))
    return root


def _serialize(root: Any, formatted: bool, indent: int) -> bytes:
    if formatted:
        etree.indent(root, space=" " * indent)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False) + b"\n"


def _as_version(version: Version | str | None) -> Version:
    if version is None:
        return CURRENT_VERSION
    if isinstance(version, Version):
        return version
    if isinstance(version, str):
        return Version.parse(version)
    raise TypeError(f"not a version: {version!r}")


def _check_archivable(obj: Any) -> None:
    cls = type(obj)
    spec = getattr(cls, "SPEC", None)
    if not isinstance(obj, BaseObject) or spec is None or spec.abstract:
        raise ArchiveError(f"cannot archive a {cls.__name__}")


def encode(
    obj: BaseObject,
    version: Version | str | None = CURRENT_VERSION,
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
    version = _as_version(version)
    _check_archivable(obj)
    if indent < 0:
        raise ValueError("indent must not be negative")
    plans = _plans(version)
    root = _root_element(ROOT_TAG, version)
    try:
        _write_polymorphic(root, "", obj, plans, True)
    except RecursionError:
        raise ArchiveError("object graph too deep or cyclic") from None
    return _serialize(root, formatted, indent)


def encode_imported(obj: BaseObject, version: Version | str | None = CURRENT_VERSION) -> bytes:
    """``obj`` as the root element of its own document, without the ``seiscomp`` wrapper.

    This is the payload of content type ``CONTENT_IMPORTED_XML``: the archive has no root tag,
    so the object's element becomes the document element and carries the namespace and version.
    """
    version = _as_version(version)
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


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


_PARSER = _parser()


class _Element(NamedTuple):
    """A child element as the reader sees it: local name, ``role`` attribute, the element."""

    name: str
    role: str | None
    el: Any


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :] if tag[0] == "{" else tag


def _elements(el: Any) -> list[_Element]:
    out = []
    for child in el:
        tag = child.tag
        if type(tag) is str:
            out.append(_Element(_local(tag), child.get("role"), child))
    return out


def _fail(reason: str, el: Any) -> ArchiveError:
    line = el.sourceline
    return ArchiveError(f"{reason} (line {line})" if line else reason)


class _Reader:
    """The state of one document being read: its version's plans and the nesting depth."""

    __slots__ = ("plans", "depth")

    def __init__(self, plans: _Plans) -> None:
        self.plans = plans
        self.depth = 0

    def polymorphic(self, element: _Element, children: bool) -> BaseObject:
        if self.depth >= MAX_NESTING:
            raise _fail(f"objects nested deeper than {MAX_NESTING}", element.el)
        self.depth += 1
        obj = self.object(element.el, self.plans[BY_RTTI[element.name].SPEC.name], children)
        self.depth -= 1
        return obj

    def object(self, el: Any, plan: _Plan, children: bool) -> BaseObject:
        if plan.too_new:
            raise _fail(
                f"{plan.spec.name} does not exist in archive versions newer than {CURRENT_VERSION}", el
            )
        obj = plan.cls.__new__(plan.cls)
        d = obj.__dict__
        if plan.absent:
            d.update(plan.absent)
        for name, factory in plan.absent_factories:
            d[name] = factory()
        elements: list[_Element] | None = None
        member = _PUBLIC_ID
        try:
            if plan.public_id:
                d["publicID"] = el.get("publicID", "")
            for member in plan.members:
                where = member.where
                if where == _ATTRIBUTE:
                    text = el.get(member.name)
                    d[member.attr] = self.primitive(member, text, el)
                elif where == _CDATA:
                    d[member.attr] = self.primitive(member, el.text, el)
                else:
                    if elements is None:
                        elements = _elements(el)
                    if where == _ELEMENT:
                        found = _static(elements, member.name)
                        if found is None:
                            d[member.attr] = self.primitive(member, None, el)
                        else:
                            d[member.attr] = self.primitive(member, found.el.text or "", found.el)
                    elif where == _VALUE:
                        found = _static(elements, member.name)
                        if found is None:
                            if not member.optional:
                                raise _fail(f"element <{member.name}> missing", el)
                            d[member.attr] = None
                        else:
                            d[member.attr] = self.object(found.el, self.plans[member.type], False)
                    elif where == _OBJECT:
                        found = _polymorphic(elements, member.name, MODEL.classes[member.type].rtti_name)
                        d[member.attr] = None if found is None else self.polymorphic(found, member.children)
                    else:
                        base = MODEL.classes[member.type].rtti_name
                        d[member.attr] = [
                            self.polymorphic(e, True) for e in elements if _matches(e, member.name, base)
                        ]
            if children and plan.children:
                member = None
                if elements is None:
                    elements = _elements(el)
                arrays = {}
                for role, class_name in plan.children:
                    items = [e.el for e in elements if e.name == role and not e.role]
                    if items:
                        element_plan = self.plans[class_name]
                        lst = []
                        for item in items:
                            child = self.object(item, element_plan, True)
                            child.__dict__["_parent"] = obj
                            lst.append(child)
                        arrays[role] = lst
                if arrays:
                    d["_children"] = arrays
        except ArchiveError as exc:
            exc.add_frame(plan.spec.name, member.attr if member else "children")
            raise
        return obj

    @staticmethod
    def primitive(member: _Member, text: str | None, el: Any) -> Any:
        if text is None:
            if member.optional:
                return None
            if member.type == "string":
                return ""
            if member.type.endswith("_array"):
                return []
            where = (
                "element"
                if member.where == _ELEMENT
                else "attribute"
                if member.where == _ATTRIBUTE
                else "text"
            )
            raise _fail(f"{where} {member.name!r} missing", el)
        try:
            return member.parse(text)
        except ValueError as exc:
            raise _fail(str(exc), el) from None


def _static(elements: list[_Element], name: str) -> _Element | None:
    for element in elements:
        if element.name == name and not element.role:
            return element
    return None


def _matches(element: _Element, role: str, base: str) -> bool:
    if element.role:
        if element.role != role:
            return False
    elif role:
        return False
    return _is_type_of(base, element.name)


def _polymorphic(elements: list[_Element], role: str, base: str) -> _Element | None:
    for element in elements:
        if _matches(element, role, base):
            return element
    return None


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


def _read_top(candidates: list[_Element], version: Version, expected: str, where: Any) -> BaseObject:
    found = _polymorphic(candidates, "", expected)
    if found is None:
        raise _fail(f"the document holds no {expected} object", where)
    try:
        return _Reader(_plans(version)).polymorphic(found, True)
    except RecursionError:
        raise _fail("document nested too deeply", found.el) from None


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
        candidates = _elements(root)
    else:
        version = UNVERSIONED
        candidates = [_Element(_local(root.tag), root.get("role"), root)]
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
    candidates = [_Element(_local(root.tag), root.get("role"), root)]
    return _read_top(candidates, UNVERSIONED, expected_name, root)


# ---------------------------------------------------------------------------------------------
# Network payloads


def _encode_message(message: BaseObject, version: Version) -> bytes:
    return encode(message, version)


def _decode_message(data: bytes) -> BaseObject:
    return decode(data, "Message")


def _encode_imported_message(message: BaseObject, version: Version) -> bytes:
    return encode_imported(message, version)


def _decode_imported_message(data: bytes) -> BaseObject:
    return decode_imported(data, "Message")


payload.register_format("xml", _encode_message, _decode_message)
payload.register_format("imported_xml", _encode_imported_message, _decode_imported_message)
