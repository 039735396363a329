"""Python types for every class and enumeration of the description, built when first imported.

Objects are plain attribute bags with validation on assignment:

* construction takes keyword arguments named like the attributes (``Pick(publicID=..., time=...)``);
  omitted attributes get the SeisComP3 defaults: ``None`` for optional members, ``""``, ``0``,
  ``0.0``, ``False``, ``Time(0, 0)``, ``[]``, the first enumeration value, or a fresh default
  instance of a value class;
* assigning a value of the wrong type raises ``TypeError``; an unknown enumeration name or an
  integer outside 32 bits raises ``ValueError``; an unknown attribute raises ``AttributeError``;
* enumeration values are ``enum.StrEnum`` members whose value is the SeisComP3 name
  (``EvaluationMode.AUTOMATIC == "automatic"``); plain strings are converted on assignment;
* ``Object`` subclasses know their parent and hold child arrays (``add``, ``remove``,
  ``children``); ``PublicObject`` subclasses have a ``publicID``;
* equality compares the class, every attribute and the children, never the parent.

Codecs fill ``obj.__dict__`` directly (values they decode are already of the right type) and read
``obj.__dict__`` / ``obj._children`` directly; everyone else uses attributes and methods.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from scmaster3.datamodel.description import (
    PUBLIC_ID_ATTRIBUTE,
    AttributeSpec,
    ChildSpec,
    ClassSpec,
    Model,
    load_model,
)
from scmaster3.datamodel.timestamp import Time

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1

MODEL: Model = load_model()

# Generated types claim the package as their module: it resolves them by name, so pickle and
# repr find them there.
_PUBLIC_MODULE = "scmaster3.datamodel"


class BaseObject:
    """Root of every serializable type (``Core::BaseObject``)."""

    SPEC: ClassSpec
    _converters: dict[str, Callable[[Any], Any]] = {}
    _static_defaults: dict[str, Any] = {}
    _factory_defaults: tuple[tuple[str, Callable[[], Any]], ...] = ()
    _attr_names: tuple[str, ...] = ()
    _roles: tuple[str, ...] = ()
    _children: dict[str, list[Object]] | None = None

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        if cls.SPEC.abstract:
            raise TypeError(f"{cls.__name__} is abstract")
        self._reset_defaults()
        converters = cls._converters
        d = self.__dict__
        for name, value in values.items():
            convert = converters.get(name)
            if convert is None:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
            d[name] = convert(value)

    def _reset_defaults(self) -> None:
        d = self.__dict__
        d.update(self._static_defaults)
        for name, factory in self._factory_defaults:
            d[name] = factory()

    def __setattr__(self, name: str, value: Any) -> None:
        convert = self._converters.get(name)
        if convert is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        self.__dict__[name] = convert(value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {type(self).__name__}.{name}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = self.__dict__, other.__dict__
        for name in self._attr_names:
            if mine[name] != theirs[name]:
                return False
        for role in self._roles:
            if self._child_list(role) != other._child_list(role):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _child_list(self, role: str) -> list[Object]:
        children = self._children
        if children is None:
            return []
        return children.get(role, [])

    def __repr__(self) -> str:
        parts = []
        for name in self._attr_names:
            value = self.__dict__[name]
            if value != _default_of(type(self), name):
                parts.append(f"{name}={value!r}")
        for role in self._roles:
            count = len(self._child_list(role))
            if count:
                parts.append(f"<{count} {role}>")
        return f"{type(self).__name__}({', '.join(parts)})"


class Object(BaseObject):
    """A data-model object that lives in a child array of a parent (``DataModel::Object``)."""

    _parent: Object | None = None

    @property
    def parent(self) -> Object | None:
        """The object holding this one in a child array, if attached."""
        return self._parent

    def children(self, role: str) -> tuple[Object, ...]:
        """The elements of child array ``role`` (e.g. ``origin.children("arrival")``)."""
        if role not in self._roles:
            raise KeyError(f"{type(self).__name__} has no child array {role!r}")
        return tuple(self._child_list(role))

    def iter_children(self) -> Iterator[tuple[ChildSpec, Object]]:
        """Every child with its array, in serialization order."""
        for spec in self.SPEC.children:
            for child in self._child_list(spec.name):
                yield spec, child

    def index_key(self) -> tuple[Any, ...]:
        """The values of the ``XIndex`` members, in index order (empty if the class has none)."""
        d = self.__dict__
        return tuple(d[name] for name in self.SPEC.index_attributes)

    def add(self, child: Object) -> None:
        """Attach ``child`` to the child array for its class.

        TypeError if this class has no array for it; ValueError if it already has a parent or a
        sibling with the same publicID (public objects) or index (other objects) is present.
        """
        spec = self.SPEC.child_for_class(type(child).__name__) if isinstance(child, Object) else None
        if spec is None:
            raise TypeError(f"{type(self).__name__} cannot hold a {type(child).__name__}")
        if child._parent is not None:
            raise ValueError(f"{type(child).__name__} already has a parent")
        if self._children is None:
            self.__dict__["_children"] = {}
        siblings = self._children.setdefault(spec.name, [])
        if isinstance(child, PublicObject):
            if child.publicID and any(s.publicID == child.publicID for s in siblings):
                raise ValueError(f"{type(self).__name__} already holds {child.publicID!r}")
        elif child.SPEC.index_attributes:
            key = child.index_key()
            if any(s.index_key() == key for s in siblings):
                raise ValueError(
                    f"{type(self).__name__} already holds a {type(child).__name__} with index {key!r}"
                )
        siblings.append(child)
        child.__dict__["_parent"] = self

    def remove(self, child: Object) -> None:
        """Detach ``child`` (by identity); ValueError if it is not a child of this object."""
        for role in self._roles:
            siblings = self._child_list(role)
            for i, sibling in enumerate(siblings):
                if sibling is child:
                    del siblings[i]
                    child.__dict__["_parent"] = None
                    return
        raise ValueError(f"{type(child).__name__} is not a child of this {type(self).__name__}")


class PublicObject(Object):
    """An object with a globally unique ``publicID`` (``DataModel::PublicObject``)."""

    publicID: str


class Message(BaseObject):
    """A payload of a data message (``Core::Message``)."""


class ServiceRequestMessage(Message):
    """Base of service requests (``service_request_message``)."""


class ServiceProvideMessage(Message):
    """Base of service responses (``service_response_message``)."""


_ABSTRACT_TYPES: dict[str, type[BaseObject]] = {
    "BaseObject": BaseObject,
    "Object": Object,
    "PublicObject": PublicObject,
    "Message": Message,
    "ServiceRequestMessage": ServiceRequestMessage,
    "ServiceProvideMessage": ServiceProvideMessage,
}

ENUMS: dict[str, type[enum.StrEnum]] = {}
"""Enumeration types by name; members are named by C++ symbol, valued by SeisComP3 name."""

CLASSES: dict[str, type[BaseObject]] = {}
"""Every class (abstract ones included) by C++/Python name."""

BY_RTTI: dict[str, type[BaseObject]] = {}
"""Every class by the name archives carry."""


def _build_enums() -> None:
    for spec in MODEL.enums.values():
        enum_type = enum.StrEnum(
            spec.name, list(zip(spec.symbols, spec.names, strict=True)), module=_PUBLIC_MODULE
        )
        ENUMS[spec.name] = enum_type


def _type_error(owner: str, attr: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"{owner}.{attr}: expected {expected}, got {type(value).__name__} {value!r:.60}")


def _scalar_converter(owner: str, spec: AttributeSpec) -> Callable[[Any], Any]:
    attr, type_ = spec.attr, spec.type
    if type_ == "string":

        def convert(value: Any) -> Any:
            if type(value) is str:
                return value
            if isinstance(value, str):
                return str(value)
            raise _type_error(owner, attr, "str", value)

    elif type_ == "int":

        def convert(value: Any) -> Any:
            if type(value) is not int:
                raise _type_error(owner, attr, "int", value)
            if not _INT32_MIN <= value <= _INT32_MAX:
                raise ValueError(f"{owner}.{attr}: {value} does not fit in 32 bits")
            return value

    elif type_ == "double":

        def convert(value: Any) -> Any:
            if type(value) is float:
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise _type_error(owner, attr, "float", value)

    elif type_ == "bool":

        def convert(value: Any) -> Any:
            if type(value) is bool:
                return value
            raise _type_error(owner, attr, "bool", value)

    elif type_ == "time":

        def convert(value: Any) -> Any:
            if type(value) is Time:
                return value
            raise _type_error(owner, attr, "Time", value)

    elif type_ == "double_array":

        def convert(value: Any) -> Any:
            items = _iterable(owner, attr, value)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
                raise TypeError(f"{owner}.{attr}: expected a sequence of floats")
            return [float(v) for v in items]

    elif type_ == "complex_array":

        def convert(value: Any) -> Any:
            items = _iterable(owner, attr, value)
            if not all(isinstance(v, (int, float, complex)) and not isinstance(v, bool) for v in items):
                raise TypeError(f"{owner}.{attr}: expected a sequence of complex numbers")
            return [complex(v) for v in items]

    elif type_ == "time_array":

        def convert(value: Any) -> Any:
            items = _iterable(owner, attr, value)
            if not all(type(v) is Time for v in items):
                raise TypeError(f"{owner}.{attr}: expected a sequence of Time")
            return items

    elif spec.category == "enum":
        enum_type = ENUMS[type_]
        by_name = {member.value: member for member in enum_type}

        def convert(value: Any) -> Any:
            if type(value) is enum_type:
                return value
            if isinstance(value, str):
                member = by_name.get(value)
                if member is not None:
                    return member
                raise ValueError(
                    f"{owner}.{attr}: unknown {type_} name {value!r} (known: {', '.join(map(repr, by_name))})"
                )
            raise _type_error(owner, attr, f"{type_} or its name", value)

    elif spec.category == "complex":

        def convert(value: Any) -> Any:
            if type(value) is CLASSES[type_]:
                return value
            raise _type_error(owner, attr, type_, value)

    elif spec.category == "object":

        def convert(value: Any) -> Any:
            if isinstance(value, CLASSES[type_]) and not type(value).SPEC.abstract:
                return value
            raise _type_error(owner, attr, type_, value)

    elif spec.category == "sequence":

        def convert(value: Any) -> Any:
            items = _iterable(owner, attr, value)
            element = CLASSES[type_]
            for item in items:
                if not isinstance(item, element) or type(item).SPEC.abstract:
                    raise _type_error(owner, attr, f"a sequence of {type_}", item)
            return items

    else:  # pragma: no cover - the description is checked when loaded
        raise ValueError(f"cannot convert {owner}.{attr} of type {type_}")
    return convert


def _iterable(owner: str, attr: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise _type_error(owner, attr, "a sequence", value)
    return list(value)


def _converter(owner: str, spec: AttributeSpec) -> Callable[[Any], Any]:
    convert = _scalar_converter(owner, spec)
    if not spec.optional:
        return convert

    def optional(value: Any) -> Any:
        return None if value is None else convert(value)

    return optional


_STATIC_DEFAULTS = {"string": "", "int": 0, "double": 0.0, "bool": False, "time": Time(0, 0)}


def _default(spec: AttributeSpec) -> tuple[bool, Any]:
    """(is_factory, value): the default of an attribute."""
    if spec.optional:
        return False, None
    if spec.type in _STATIC_DEFAULTS:
        return False, _STATIC_DEFAULTS[spec.type]
    if spec.is_array or spec.category == "sequence":
        return True, list
    if spec.category == "enum":
        return False, next(iter(ENUMS[spec.type]))
    if spec.category == "complex":
        return True, lambda: CLASSES[spec.type]()
    raise ValueError(f"no default for {spec.attr}")  # pragma: no cover


def _default_of(cls: type[BaseObject], name: str) -> Any:
    if name in cls._static_defaults:
        return cls._static_defaults[name]
    return dict(cls._factory_defaults)[name]()


def _build_class(spec: ClassSpec) -> type[BaseObject]:
    base = CLASSES[spec.base] if spec.base else BaseObject
    converters: dict[str, Callable[[Any], Any]] = dict(base._converters)
    static_defaults: dict[str, Any] = dict(base._static_defaults)
    attr_names: list[str] = list(base._attr_names)
    if spec.has_public_id:
        converters["publicID"] = _converter(spec.name, PUBLIC_ID_ATTRIBUTE)
        static_defaults["publicID"] = spec.fixed_public_id or ""
        attr_names.append("publicID")
    factories: list[tuple[str, Callable[[], Any]]] = []
    for attr in spec.attributes:
        converters[attr.attr] = _converter(spec.name, attr)
        is_factory, value = _default(attr)
        if is_factory:
            factories.append((attr.attr, value))
        else:
            static_defaults[attr.attr] = value
        attr_names.append(attr.attr)
    namespace = {
        "SPEC": spec,
        "__doc__": f"SeisComP3 {spec.kind} class {spec.name} (archive name {spec.rtti_name!r}).",
        "__module__": _PUBLIC_MODULE,
        "__qualname__": spec.name,
        "_converters": converters,
        "_static_defaults": static_defaults,
        "_factory_defaults": tuple(factories),
        "_attr_names": tuple(attr_names),
        "_roles": tuple(c.name for c in spec.children),
    }
    return type(spec.name, (base,), namespace)


def _build_classes() -> None:
    for name, cls in _ABSTRACT_TYPES.items():
        cls.SPEC = MODEL.classes[name]
        CLASSES[name] = cls
    for spec in MODEL.classes.values():
        if spec.name not in CLASSES:
            CLASSES[spec.name] = _build_class(spec)
    BY_RTTI.update({cls.SPEC.rtti_name: cls for cls in CLASSES.values()})


_build_enums()
_build_classes()
