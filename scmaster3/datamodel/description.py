"""Typed view of ``model.json``: the one description of the SeisComP3 data model (schema 0.11).

Every interpreter of the model reads these objects: the binary and XML archives, the object
types, the DDL generator and the row mapper. Nothing here knows about bytes or SQL.

Vocabulary:

* ``ClassSpec``: one class; ``kind`` is ``public``, ``object`` or ``value`` for the data model,
  ``message`` for ``Core::Message`` subclasses, ``notifier`` for the notifier and ``abstract`` for
  the bases of the run-time type hierarchy (``BaseObject``, ``Object``, ``Message``...).
* ``AttributeSpec``: one serialized member, in serialization order, with the version that
  introduced it (``since``) and its archive hints.
* ``ChildSpec``: one child array (role name, element class, version).
* ``TableSpec`` / ``ColumnSpec``: the SQL table of a class as the reference schema has it.
"""

from __future__ import annotations

import bisect
import enum
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

DESCRIPTION_FILE = Path(__file__).with_name("model.json")

PRIMITIVE_TYPES = frozenset({"string", "int", "double", "bool", "time"})
ARRAY_TYPES = frozenset({"double_array", "complex_array", "time_array"})


class Version(NamedTuple):
    """A schema version; ordered, packed on the wire as ``major << 16 | minor``."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """``"0.11"`` or ``"1"`` to a version; raises ValueError for anything else."""
        major, _, minor = text.strip().partition(".")
        try:
            version = cls(int(major), int(minor) if minor else 0)
        except ValueError:
            raise ValueError(f"not a version: {text!r}") from None
        if not (0 <= version.major <= 0xFFFF and 0 <= version.minor <= 0xFFFF):
            raise ValueError(f"version out of range: {text!r}")
        return version

    @classmethod
    def from_packed(cls, packed: int) -> Version:
        return cls((packed >> 16) & 0xFFFF, packed & 0xFFFF)

    @property
    def packed(self) -> int:
        return (self.major << 16) | self.minor

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


UNVERSIONED = Version(0, 0)


class Hint(enum.IntFlag):
    """Serialization hint bits of ``Core::Generic::Archive``."""

    NONE = 0
    STATIC_TYPE = 0x01
    IGNORE_CHILDS = 0x02
    XML_ELEMENT = 0x04
    XML_CDATA = 0x08
    XML_MANDATORY = 0x10
    DB_TABLE = 0x20
    SPLIT_TIME = 0x40
    INDEX_ATTRIBUTE = 0x80

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...]) -> Hint:
        hint = cls.NONE
        for name in names:
            hint |= cls[name]
        return hint


def _version(text: str | None) -> Version | None:
    return None if text is None else Version.parse(text)


@dataclass(frozen=True)
class EnumSpec:
    """An enumeration: archives store ``names[i]``, never the index."""

    name: str
    symbols: tuple[str, ...]
    names: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class LegacyHints:
    """Hints an attribute carried in archives older than ``before``."""

    before: Version
    hints: Hint


@dataclass(frozen=True)
class AttributeSpec:
    """One serialized member of a class, in serialization order."""

    name: str
    """Member name in archives (XML tag or attribute, DB column stem); may be empty for messages."""
    type: str
    """``string``, ``int``, ``double``, ``bool``, ``time``, ``double_array``, ``complex_array``,
    ``time_array``, an enumeration name or a class name."""
    category: str
    """``primitive`` (incl. arrays), ``enum``, ``complex`` (embedded value class), ``object``
    (nullable polymorphic pointer) or ``sequence`` (list of polymorphic objects)."""
    optional: bool
    hints: Hint
    since: Version | None
    reference: bool
    legacy: LegacyHints | None
    attr: str
    """Python attribute name on the object types (equals ``name`` unless ``name`` is empty)."""

    def present_in(self, version: Version) -> bool:
        """Whether archives of this version carry the member."""
        return self.since is None or version >= self.since

    def hints_in(self, version: Version) -> Hint:
        """The hints in effect for an archive (or database) of this version."""
        if self.legacy is not None and version < self.legacy.before:
            return self.legacy.hints
        return self.hints

    @property
    def xml(self) -> str:
        """Where XML puts a primitive or enum: ``attribute``, ``element`` or ``cdata``."""
        if self.hints & Hint.XML_CDATA:
            return "cdata"
        if self.hints & Hint.XML_ELEMENT:
            return "element"
        return "attribute"

    @property
    def xml_mandatory(self) -> bool:
        return bool(self.hints & Hint.XML_MANDATORY)

    @property
    def split_time(self) -> bool:
        return bool(self.hints & Hint.SPLIT_TIME)

    @property
    def index(self) -> bool:
        return bool(self.hints & Hint.INDEX_ATTRIBUTE)

    @property
    def is_array(self) -> bool:
        return self.type in ARRAY_TYPES


PUBLIC_ID_ATTRIBUTE = AttributeSpec(
    name="publicID",
    type="string",
    category="primitive",
    optional=False,
    hints=Hint.NONE,
    since=None,
    reference=False,
    legacy=None,
    attr="publicID",
)
"""``PublicObject::serialize`` writes this one member (an unhinted string, so an XML attribute)
before the attributes of every public class whose ``writes_public_id(version)`` is true."""


@dataclass(frozen=True)
class ChildSpec:
    """A child array: elements of ``class_name`` serialized under role ``name``."""

    name: str
    class_name: str
    since: Version | None

    def present_in(self, version: Version) -> bool:
        return self.since is None or version >= self.since


@dataclass(frozen=True)
class ParentSpec:
    class_name: str
    array_name: str


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a class table (name without the PostgreSQL ``m_`` prefix)."""

    name: str
    kind: str
    """``string``, ``int``, ``double``, ``bool``, ``time``, ``microseconds``, ``enum``, ``used``,
    ``double_array``, ``complex_array`` or ``time_array``."""
    attr: str
    """Flattened attribute path joined by ``_`` (e.g. ``time_value``)."""
    not_null: bool
    index: bool
    """Part of the composite unique key."""
    index_hint: bool
    """Goes to the WHERE clause when a non-public object is updated or removed."""
    sql_mysql: str
    sql_postgresql: str
    sql_sqlite3: str
    since: Version | None

    def present_in(self, version: Version) -> bool:
        return self.since is None or version >= self.since


@dataclass(frozen=True)
class TableSpec:
    name: str
    last_modified_column: bool
    columns: tuple[ColumnSpec, ...]
    unique_composite: tuple[tuple[str, ...], ...]
    secondary_indexes_mysql: tuple[tuple[str, ...], ...]

    def columns_in(self, version: Version) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.present_in(version))


@dataclass(frozen=True)
class ClassSpec:
    name: str
    """C++ and Python class name (``Pick``, ``NotifierMessage``)."""
    rtti_name: str
    """Class name written into archives (``Pick``, ``notifier_message``)."""
    kind: str
    base: str | None
    """Name (``ClassSpec.name``) of the base class; ``None`` for ``BaseObject``."""
    attributes: tuple[AttributeSpec, ...] = ()
    children: tuple[ChildSpec, ...] = ()
    parents: tuple[ParentSpec, ...] = ()
    index_attributes: tuple[str, ...] = ()
    """Members of the ``XIndex`` struct, in its order (the SQL unique-key order)."""
    public_id_since: Version | None = None
    public_id_serialized: bool = False
    root: bool = False
    fixed_public_id: str | None = None
    table: TableSpec | None = None
    source: str | None = None
    _by_attr: dict[str, AttributeSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_attr.update({a.attr: a for a in self.attributes})

    @property
    def abstract(self) -> bool:
        return self.kind == "abstract"

    @property
    def has_public_id(self) -> bool:
        return self.kind == "public"

    @property
    def is_datamodel(self) -> bool:
        return self.kind in ("public", "object", "value")

    def attribute(self, attr: str) -> AttributeSpec:
        """The attribute with this Python name; KeyError if there is none."""
        return self._by_attr[attr]

    def writes_public_id(self, version: Version) -> bool:
        """Whether archives of this version carry the publicID (roots never do)."""
        if not self.public_id_serialized:
            return False
        return self.public_id_since is None or version >= self.public_id_since

    def attributes_in(self, version: Version) -> tuple[AttributeSpec, ...]:
        return tuple(a for a in self.attributes if a.present_in(version))

    def children_in(self, version: Version) -> tuple[ChildSpec, ...]:
        return tuple(c for c in self.children if c.present_in(version))

    def child_for_class(self, class_name: str) -> ChildSpec | None:
        """The child array that holds elements of ``class_name``, if any."""
        for child in self.children:
            if child.class_name == class_name:
                return child
        return None


@dataclass(frozen=True)
class Model:
    """The whole description: enumerations and classes by name and by RTTI name."""

    schema_version: Version
    xml_namespace: str
    enums: dict[str, EnumSpec]
    classes: dict[str, ClassSpec]
    by_rtti: dict[str, ClassSpec]

    def datamodel_classes(self) -> Iterator[ClassSpec]:
        """The 92 classes of the data-model schema, in description order."""
        return (c for c in self.classes.values() if c.is_datamodel)

    def message_classes(self) -> Iterator[ClassSpec]:
        """The notifier and the messages (``Core::Message`` subclasses) that can be archived."""
        return (c for c in self.classes.values() if c.kind in ("message", "notifier"))

    def tables(self) -> Iterator[ClassSpec]:
        """Classes with an SQL table, in description order."""
        return (c for c in self.classes.values() if c.table is not None)

    def is_type_of(self, base: str, rtti_name: str) -> bool:
        """Whether the class named ``rtti_name`` is ``base`` or derives from it (RTTI names)."""
        return (base, rtti_name) in self.derivations

    @functools.cached_property
    def derivations(self) -> frozenset[tuple[str, str]]:
        """Every (base, derived) pair of RTTI names, a class being its own base: ``IsTypeOf``."""
        pairs = set()
        for spec in self.classes.values():
            base: ClassSpec | None = spec
            while base is not None:
                pairs.add((base.rtti_name, spec.rtti_name))
                base = self.classes[base.base] if base.base else None
        return frozenset(pairs)

    @functools.cached_property
    def layout_versions(self) -> tuple[Version, ...]:
        """0.0, the current version and every version at which a member, child array or publicID
        appears or a member's hints change, in order: archives of all versions from one of them
        up to the next have the same layout."""
        found = {UNVERSIONED, self.schema_version}
        for spec in self.classes.values():
            found.update(a.since for a in spec.attributes if a.since)
            found.update(a.legacy.before for a in spec.attributes if a.legacy)
            found.update(c.since for c in spec.children if c.since)
            if spec.public_id_since:
                found.add(spec.public_id_since)
        return tuple(sorted(found))

    def layout(self, version: Version) -> Version:
        """The layout version that archives of ``version`` share (see ``layout_versions``)."""
        return self.layout_versions[bisect.bisect_right(self.layout_versions, version) - 1]


def _attributes(members: list[dict[str, Any]], enums: dict[str, EnumSpec], classes: set[str]) -> tuple:
    out = []
    for m in members:
        type_ = m["type"]
        if "category" in m:
            category = m["category"]
        elif type_ in PRIMITIVE_TYPES or type_ in ARRAY_TYPES:
            category = "primitive"
        elif type_ in enums:
            category = "enum"
        elif type_ in classes:
            category = "complex"
        else:
            raise ValueError(f"unknown type {type_!r} of member {m['name']!r}")
        legacy = m.get("legacy")
        out.append(
            AttributeSpec(
                name=m["name"],
                type=type_,
                category=category,
                optional=m.get("optional", False),
                hints=Hint.from_names(m.get("hints", [])),
                since=_version(m.get("since")),
                reference=m.get("reference", False),
                legacy=LegacyHints(Version.parse(legacy["before"]), Hint.from_names(legacy["hints"]))
                if legacy
                else None,
                attr=m.get("attr", m["name"]),
            )
        )
    return tuple(out)


def _table(db: dict[str, Any]) -> TableSpec:
    columns = tuple(
        ColumnSpec(
            name=c["name"],
            kind=c["kind"],
            attr=c["attr"],
            not_null=c["notNull"],
            index=c["index"],
            index_hint=c["indexHint"],
            sql_mysql=c["mysql"],
            sql_postgresql=c["postgresql"],
            sql_sqlite3=c["sqlite3"],
            since=_version(c.get("since")),
        )
        for c in db["columns"]
    )
    return TableSpec(
        name=db["table"],
        last_modified_column=db["lastModified"],
        columns=columns,
        unique_composite=tuple(tuple(u) for u in db["unique"]),
        secondary_indexes_mysql=tuple(tuple(i) for i in db["secondaryIndexes"]),
    )


def parse(data: dict[str, Any]) -> Model:
    """Build the typed model from the JSON form of ``model.json``."""
    enums = {
        name: EnumSpec(
            name=name,
            symbols=tuple(v[0] for v in e["values"]),
            names=tuple(v[1] for v in e["values"]),
            source=e["source"],
        )
        for section in ("enumerations", "messageEnumerations")
        for name, e in data[section].items()
    }
    class_names = set(data["classes"]) | set(data["messageClasses"]) | set(data["abstractClasses"])
    classes: dict[str, ClassSpec] = {}
    for name, c in data["abstractClasses"].items():
        classes[name] = ClassSpec(name=name, rtti_name=c["rtti"], kind="abstract", base=c["base"])
    for name, c in data["classes"].items():
        public_id = c.get("publicID", False)
        classes[name] = ClassSpec(
            name=name,
            rtti_name=c["rtti"],
            kind=c["kind"],
            base=c["base"],
            attributes=_attributes(c["attributes"], enums, class_names),
            children=tuple(
                ChildSpec(ch["name"], ch["class"], _version(ch.get("since"))) for ch in c["children"]
            ),
            parents=tuple(ParentSpec(p[0], p[1]) for p in c["parents"]),
            index_attributes=tuple(c["index"]),
            public_id_since=_version(public_id["since"]) if public_id else None,
            public_id_serialized=bool(public_id),
            root=c.get("root", False),
            fixed_public_id=c.get("fixedPublicID"),
            table=_table(c["db"]) if "db" in c else None,
        )
    for name, c in data["messageClasses"].items():
        classes[name] = ClassSpec(
            name=name,
            rtti_name=c["rtti"],
            kind="notifier" if c["base"] == "BaseObject" else "message",
            base=c["base"],
            attributes=_attributes(c["attributes"], enums, class_names),
            source=c["source"],
        )
    by_rtti = {c.rtti_name: c for c in classes.values()}
    if len(by_rtti) != len(classes):
        raise ValueError("duplicate RTTI names in the description")
    return Model(
        schema_version=Version.parse(data["schemaVersion"]),
        xml_namespace=data["xmlNamespace"],
        enums=enums,
        classes=classes,
        by_rtti=by_rtti,
    )


@functools.cache
def load_model() -> Model:
    """The packaged description (parsed once per process)."""
    return parse(json.loads(DESCRIPTION_FILE.read_text(encoding="utf-8")))


CURRENT_VERSION = Version(0, 11)


def as_version(version: Version | int | str | None) -> Version:
    """A version given as such, as text (``"0.11"``), packed (``0x0B``; -1 for the current one)
    or as ``None`` (the current one); TypeError or ValueError for anything else."""
    if version is None:
        return CURRENT_VERSION
    if isinstance(version, Version):
        return version
    if isinstance(version, str):
        return Version.parse(version)
    if type(version) is int:
        return CURRENT_VERSION if version == -1 else Version.from_packed(version)
    raise TypeError(f"not a version: {version!r}")
