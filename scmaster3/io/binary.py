"""The SeisComP3 binary archive (``VBinaryArchive``, "SCBA"), byte for byte.

Layout (spec sc3-datamodel.md section 3): optional header ``SCBA`` + int32 packed version, then
the object as a nullable polymorphic pointer: class header (int32 id into a per-archive name
table, or -1 followed by the name), a used byte, then the members in serialization order.
Little-endian; strings and arrays are int32 length + content; optional values carry a used byte;
enumerations are written as their names; an embedded value class carries its class header even
when absent; in a sequence only the first element has a used byte.

The codec interprets the model description. For each archive version it compiles, once, one
encoder and one decoder function per class from the description (``_Compiler``), so the hot
path runs straight-line code without looking anything up per member. Versions that differ only
in members none of them has are served by the same compiled set.

Errors: every failure raises ``ArchiveError`` with the member path and byte offset; input is
never trusted for sizes (a length is checked against the bytes left before anything is
allocated) and polymorphic nesting is limited, so hostile input cannot hang or exhaust memory.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

from scmaster3.datamodel.description import (
    CURRENT_VERSION,
    PUBLIC_ID_ATTRIBUTE,
    UNVERSIONED,
    AttributeSpec,
    ClassSpec,
    Hint,
    Version,
    as_version,
)
from scmaster3.datamodel.timestamp import Time
from scmaster3.datamodel.types import BY_RTTI, CLASSES, ENUMS, MODEL, BaseObject
from scmaster3.io.errors import ArchiveError

MAGIC = b"SCBA"
MAX_NESTING = 64
"""Deepest nesting of polymorphic objects (a data message inside a data message...) accepted."""
MAX_ELEMENTS = 1 << 20
"""Default bound on the elements of all sequences and child arrays of one archive: decoded
objects take far more memory than their bytes, so their number is bounded, not just the input."""

_INT = struct.Struct("<i")
_TWO_INTS = struct.Struct("<ii")
_DOUBLE = struct.Struct("<d")
_pack_i = _INT.pack
_unpack_i = _INT.unpack_from

__all__ = ["MAGIC", "MAX_ELEMENTS", "MAX_NESTING", "ArchiveError", "archive_version", "decode", "encode"]


# ---------------------------------------------------------------------------------------------
# Helpers called by the compiled functions


def _write_class_header(out: bytearray, ids: dict[str, int], name: str) -> None:
    class_id = ids.get(name)
    if class_id is None:
        ids[name] = len(ids)
        encoded = name.encode("utf-8")
        out += b"\xff\xff\xff\xff"
        out += _pack_i(len(encoded))
        out += encoded
    else:
        out += _pack_i(class_id)


def _pack_doubles(values: list[float]) -> bytes:
    return _pack_i(len(values)) + struct.pack(f"<{len(values)}d", *values)


def _pack_complexes(values: list[complex]) -> bytes:
    flat = [part for value in values for part in (value.real, value.imag)]
    return _pack_i(len(values)) + struct.pack(f"<{len(flat)}d", *flat)


def _pack_times(values: list[Time]) -> bytes:
    flat = [part for value in values for part in value]
    return _pack_i(len(values)) + struct.pack(f"<{len(flat)}i", *flat)


def _count(buf: bytes, pos: int, item_size: int) -> int:
    """An element count at ``pos`` that the remaining bytes can hold at ``item_size`` each."""
    count = _unpack_i(buf, pos)[0]
    if count < 0 or count * item_size > len(buf) - pos - 4:
        raise ArchiveError(f"count {count} does not fit the {len(buf) - pos - 4} bytes left", offset=pos)
    return count


def _read_doubles(buf: bytes, pos: int) -> tuple[list[float], int]:
    count = _count(buf, pos, 8)
    pos += 4
    return list(struct.unpack_from(f"<{count}d", buf, pos)), pos + 8 * count


def _read_complexes(buf: bytes, pos: int) -> tuple[list[complex], int]:
    count = _count(buf, pos, 16)
    pos += 4
    flat = struct.unpack_from(f"<{2 * count}d", buf, pos)
    return [complex(flat[i], flat[i + 1]) for i in range(0, 2 * count, 2)], pos + 16 * count


def _read_times(buf: bytes, pos: int) -> tuple[list[Time], int]:
    count = _count(buf, pos, 8)
    pos += 4
    flat = struct.unpack_from(f"<{2 * count}i", buf, pos)
    return [tuple.__new__(Time, flat[i : i + 2]) for i in range(0, 2 * count, 2)], pos + 8 * count


def _read_name(buf: bytes, pos: int) -> tuple[str, int]:
    size = _unpack_i(buf, pos)[0]
    if size < 0 or size > len(buf) - pos - 4:
        raise ArchiveError(f"class name length {size} does not fit the input", offset=pos)
    pos += 4
    return buf[pos : pos + size].decode("utf-8", "surrogateescape"), pos + size


class _ReadState:
    """What one archive being read carries along: its class-name table, nesting depth and the
    number of sequence elements met so far (against ``max_elements``)."""

    __slots__ = ("names", "depth", "book", "elements", "max_elements")

    def __init__(self, book: _Codebook, max_elements: int) -> None:
        self.names: list[str] = []
        self.depth = 0
        self.book = book
        self.elements = 0
        self.max_elements = max_elements


def _element_count(buf: bytes, pos: int, st: _ReadState) -> int:
    """The element count of a sequence at ``pos``, charged to the archive's element budget."""
    count = _count(buf, pos, 4)
    st.elements += count
    if st.elements > st.max_elements:
        raise ArchiveError(f"more than {st.max_elements} sequence elements in one archive", offset=pos)
    return count


_DERIVATIONS = MODEL.derivations


def _read_class_header(buf: bytes, pos: int, st: _ReadState, expected: str) -> tuple[str, int]:
    """The class name of the header at ``pos``; it must be ``expected`` or derived from it."""
    start = pos
    class_id = _unpack_i(buf, pos)[0]
    pos += 4
    if class_id == -1:
        name, pos = _read_name(buf, pos)
        st.names.append(name)
    elif 0 <= class_id < len(st.names):
        name = st.names[class_id]
    else:
        raise ArchiveError(f"class id {class_id} is not in the table of {len(st.names)} names", offset=start)
    if (expected, name) not in _DERIVATIONS:
        raise ArchiveError(f"expected class {expected} or a subclass, found {name[:80]!r}", offset=start)
    return name, pos


def _read_static_header(buf: bytes, pos: int, st: _ReadState, expected: str) -> int:
    return _read_class_header(buf, pos, st, expected)[1]


def _read_dynamic(buf: bytes, pos: int, st: _ReadState, name: str, children: bool) -> tuple[Any, int]:
    """The object of class ``name`` (already checked) whose content starts at ``pos``."""
    decoder = st.book.decoder(name, children)
    if decoder is None:
        raise ArchiveError(f"class {name} is abstract and cannot be read", offset=pos)
    if st.depth >= MAX_NESTING:
        raise ArchiveError(f"objects nested deeper than {MAX_NESTING}", offset=pos)
    st.depth += 1
    obj, pos = decoder(buf, pos, st)
    st.depth -= 1
    return obj, pos


def _bad_length(size: int, pos: int) -> ArchiveError:
    return ArchiveError(f"length {size} does not fit the input", offset=pos)


def _unknown_enum(enum_name: str, raw: bytes, pos: int) -> ArchiveError:
    return ArchiveError(f"unknown {enum_name} name {raw[:80]!r}", offset=pos)


def _null_element(pos: int) -> ArchiveError:
    return ArchiveError("the first element of a sequence is marked absent", offset=pos)


def _truncated(exc: Exception, pos: int) -> ArchiveError:
    if isinstance(exc, (struct.error, IndexError)):
        return ArchiveError("input ends inside a value", offset=pos)
    return ArchiveError(f"undecodable input: {exc!r}", offset=pos)


def _unencodable(exc: Exception) -> ArchiveError:
    return ArchiveError(f"cannot encode value: {exc!r}")


def _too_new(name: str) -> ArchiveError:
    return ArchiveError(f"{name} does not exist in archive versions newer than {CURRENT_VERSION}")


# ---------------------------------------------------------------------------------------------
# Compilation of the description into per-class functions


_PRIMITIVE_WRITERS = {
    "string": ["s = {v}.encode('utf-8', 'surrogateescape')", "out += pack_i(len(s))", "out += s"],
    "int": ["out += pack_i({v})"],
    "double": ["out += pack_d({v})"],
    "bool": ["out += b'\\x01' if {v} else b'\\x00'"],
    "time": ["out += pack_ii(*{v})"],
    "double_array": ["out += pack_doubles({v})"],
    "complex_array": ["out += pack_complexes({v})"],
    "time_array": ["out += pack_times({v})"],
}

_PRIMITIVE_READERS = {
    "string": [
        "n = unpack_i(buf, pos)[0]",
        "if n:",
        "    if n < 0 or n > len(buf) - pos - 4: raise bad_length(n, pos)",
        "    {t} = buf[pos + 4:pos + 4 + n].decode('utf-8', 'surrogateescape')",
        "    pos += 4 + n",
        "else:",
        "    {t} = ''",
        "    pos += 4",
    ],
    "int": ["{t} = unpack_i(buf, pos)[0]", "pos += 4"],
    "double": ["{t} = unpack_d(buf, pos)[0]", "pos += 8"],
    "bool": ["{t} = buf[pos] != 0", "pos += 1"],
    "time": ["{t} = new_time(Time, unpack_ii(buf, pos))", "pos += 8"],
    "double_array": ["{t}, pos = read_doubles(buf, pos)"],
    "complex_array": ["{t}, pos = read_complexes(buf, pos)"],
    "time_array": ["{t}, pos = read_times(buf, pos)"],
}


class _Compiler:
    """Generates Python source for the encoders and decoders of every class at one version."""

    def __init__(self, version: Version, too_new: bool) -> None:
        self.version = version
        self.too_new = too_new
        self.constants: dict[str, Any] = {}
        self.lines: list[str] = []

    # -- shared pieces

    def constant(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)

    def static_header(self, indent: int, class_name: str) -> None:
        rtti = MODEL.classes[class_name].rtti_name
        encoded = rtti.encode("utf-8")
        new = self.constant("H", b"\xff\xff\xff\xff" + _pack_i(len(encoded)) + encoded)
        self.emit(
            indent,
            f"i = ids.get({rtti!r})",
            "if i is None:",
            f"    ids[{rtti!r}] = len(ids)",
            f"    out += {new}",
            "else:",
            "    out += pack_i(i)",
        )

    # -- encoders

    def encode_value(self, indent: int, attr: AttributeSpec, v: str) -> None:
        """Lines writing the present value held in variable ``v``."""
        if attr.category == "primitive":
            self.emit(indent, *(line.format(v=v) for line in _PRIMITIVE_WRITERS[attr.type]))
        elif attr.category == "enum":
            table = self.constant(
                "E", {m: _pack_i(len(m.value.encode())) + m.value.encode() for m in ENUMS[attr.type]}
            )
            self.emit(indent, f"out += {table}[{v}]")
        elif attr.category == "complex":
            self.emit(indent, f"e_{attr.type}_a({v}, out, ids)")
        else:  # pragma: no cover
            raise AssertionError(attr.category)

    def encode_attribute(self, attr: AttributeSpec) -> None:
        self.emit(2, f"v = d[{attr.attr!r}]")
        if attr.category == "complex":
            self.static_header(2, attr.type)
            if attr.optional:
                self.emit(2, "if v is None:", "    out += b'\\x00'", "else:", "    out += b'\\x01'")
                self.encode_value(3, attr, "v")
            else:
                self.encode_value(2, attr, "v")
        elif attr.category == "object":
            children = not attr.hints & Hint.IGNORE_CHILDS
            self.emit(2, "if v is None:")
            self.static_header(3, attr.type)
            self.emit(3, "out += b'\\x00'")
            self.emit(
                2,
                "else:",
                "    cls = type(v)",
                "    write_header(out, ids, cls.SPEC.rtti_name)",
                "    out += b'\\x01'",
                f"    book.encoder(cls, {children})(v, out, ids)",
            )
        elif attr.category == "sequence":
            self.emit(
                2,
                "out += pack_i(len(v))",
                "first = True",
                "for x in v:",
                "    cls = type(x)",
                "    write_header(out, ids, cls.SPEC.rtti_name)",
                "    if first:",
                "        out += b'\\x01'",
                "        first = False",
                "    book.encoder(cls, True)(x, out, ids)",
            )
        elif attr.optional:
            self.emit(2, "if v is None:", "    out += b'\\x00'", "else:", "    out += b'\\x01'")
            self.encode_value(3, attr, "v")
        else:
            self.encode_value(2, attr, "v")

    def encoder(self, spec: ClassSpec, children: bool) -> None:
        members, fields = self.function(spec, children, "e", "(o, out, ids)")
        if members is None:
            return
        self.emit(1, "d = o.__dict__", "f = 0", "try:")
        self.member_lines(members, self.encode_attribute)
        if children:
            self.emit(2, f"f = {len(members)}", "ch = o._children")
            for child in spec.children_in(self.version):
                element = MODEL.classes[child.class_name]
                self.emit(
                    2,
                    f"lst = ch.get({child.name!r}, ()) if ch else ()",
                    "out += pack_i(len(lst))",
                    "first = True",
                    "for x in lst:",
                )
                self.static_header(3, element.name)
                self.emit(
                    3,
                    "if first:",
                    "    out += b'\\x01'",
                    "    first = False",
                    f"e_{element.name}_f(x, out, ids)",
                )
        # encode() reports a cyclic object graph once, for the whole object.
        self.handlers(spec, fields, "unencodable(exc)", passed=("RecursionError",))

    # -- decoders

    def read_static_header(self, indent: int, rtti: str) -> None:
        """Lines reading a class header that must name ``rtti``: a known id inline, else the helper."""
        self.emit(
            indent,
            "i = unpack_i(buf, pos)[0]",
            f"if 0 <= i < len(names) and names[i] == {rtti!r}:",
            "    pos += 4",
            "else:",
            f"    pos = read_static_header(buf, pos, st, {rtti!r})",
        )

    def decode_value(self, indent: int, attr: AttributeSpec, target: str) -> None:
        if attr.category == "primitive":
            self.emit(indent, *(line.format(t=target) for line in _PRIMITIVE_READERS[attr.type]))
        elif attr.category == "enum":
            table = self.constant("N", {m.value.encode(): m for m in ENUMS[attr.type]})
            self.emit(
                indent,
                "n = unpack_i(buf, pos)[0]",
                "if n < 0 or n > len(buf) - pos - 4: raise bad_length(n, pos)",
                "raw = buf[pos + 4:pos + 4 + n]",
                f"m = {table}.get(raw)",
                f"if m is None: raise unknown_enum({attr.type!r}, raw, pos)",
                f"{target} = m",
                "pos += 4 + n",
            )
        elif attr.category == "complex":
            self.emit(indent, f"{target}, pos = d_{attr.type}_a(buf, pos, st)")
        else:  # pragma: no cover
            raise AssertionError(attr.category)

    def decode_attribute(self, attr: AttributeSpec) -> None:
        target = f"d[{attr.attr!r}]"
        if attr.category == "complex":
            self.read_static_header(2, MODEL.classes[attr.type].rtti_name)
            if attr.optional:
                self.emit(2, "u = buf[pos]", "pos += 1", "if u:")
                self.decode_value(3, attr, target)
                self.emit(2, "else:", f"    {target} = None")
            else:
                self.decode_value(2, attr, target)
        elif attr.category == "object":
            children = not attr.hints & Hint.IGNORE_CHILDS
            self.emit(
                2,
                f"name, pos = read_class_header(buf, pos, st, {MODEL.classes[attr.type].rtti_name!r})",
                "u = buf[pos]",
                "pos += 1",
                "if u:",
                f"    {target}, pos = read_dynamic(buf, pos, st, name, {children})",
                "else:",
                f"    {target} = None",
            )
        elif attr.category == "sequence":
            self.emit(
                2,
                "count = element_count(buf, pos, st)",
                "pos += 4",
                "lst = []",
                "for k in range(count):",
                f"    name, pos = read_class_header(buf, pos, st, {MODEL.classes[attr.type].rtti_name!r})",
                "    if k == 0:",
                "        u = buf[pos]",
                "        pos += 1",
                "        if not u: raise null_element(pos - 1)",
                "    x, pos = read_dynamic(buf, pos, st, name, True)",
                "    lst.append(x)",
                f"{target} = lst",
            )
        elif attr.optional:
            self.emit(2, "u = buf[pos]", "pos += 1", "if u:")
            self.decode_value(3, attr, target)
            self.emit(2, "else:", f"    {target} = None")
        else:
            self.decode_value(2, attr, target)

    def decoder(self, spec: ClassSpec, children: bool) -> None:
        members, fields = self.function(spec, children, "d", "(buf, pos, st)")
        if members is None:
            return
        cls = self.constant("C", CLASSES[spec.name])
        self.emit(1, f"o = new({cls})", "d = o.__dict__", "names = st.names", "f = 0")
        self.absent_defaults(spec, members)
        self.emit(1, "try:")
        self.member_lines(members, self.decode_attribute)
        if children:
            self.emit(2, f"f = {len(members)}", "ch = {}")
            for child in spec.children_in(self.version):
                element = MODEL.classes[child.class_name]
                self.emit(
                    2,
                    "count = element_count(buf, pos, st)",
                    "pos += 4",
                    "if count:",
                    "    lst = []",
                    "    for k in range(count):",
                )
                self.read_static_header(4, element.rtti_name)
                self.emit(
                    2,
                    "        if k == 0:",
                    "            u = buf[pos]",
                    "            pos += 1",
                    "            if not u: raise null_element(pos - 1)",
                    f"        x, pos = d_{element.name}_f(buf, pos, st)",
                    "        x.__dict__['_parent'] = o",
                    "        lst.append(x)",
                    f"    ch[{child.name!r}] = lst",
                )
            self.emit(2, "if ch: d['_children'] = ch")
        self.handlers(spec, fields, "truncated(exc, pos)")
        self.emit(1, "return o, pos")

    def absent_defaults(self, spec: ClassSpec, members: tuple[AttributeSpec, ...]) -> None:
        """Lines giving the members this version does not carry their default values."""
        cls = CLASSES[spec.name]
        read = {attr.attr for attr in members}
        absent = [name for name in cls._attr_names if name not in read]
        static = {name: cls._static_defaults[name] for name in absent if name in cls._static_defaults}
        if static:
            self.emit(1, f"d.update({self.constant('S', static)})")
        for name, factory in cls._factory_defaults:
            if name in absent:
                self.emit(1, f"d[{name!r}] = {self.constant('M', factory)}()")

    # -- what encoders and decoders share

    def function(
        self, spec: ClassSpec, children: bool, prefix: str, parameters: str
    ) -> tuple[tuple[AttributeSpec, ...] | None, str]:
        """Open the function ``<prefix>_<class>_<f|a>`` (``f`` with child arrays, ``a`` without).

        Returns the members this version carries (publicID first where written) and the name of
        the constant naming them for error frames; ``None`` members if the class cannot exist in
        this version, whose function then only raises.
        """
        self.emit(0, f"def {prefix}_{spec.name}_{'f' if children else 'a'}{parameters}:")
        if self.too_new and spec.is_datamodel:
            self.emit(1, f"raise too_new({spec.name!r})")
            return None, ""
        public_id = (
            (PUBLIC_ID_ATTRIBUTE,) if spec.is_datamodel and spec.writes_public_id(self.version) else ()
        )
        members = public_id + spec.attributes_in(self.version)
        return members, self.constant("F", tuple(a.attr for a in members) + ("children",))

    def member_lines(
        self, members: tuple[AttributeSpec, ...], lines: Callable[[AttributeSpec], None]
    ) -> None:
        """The lines of each member, each first recording its position ``f`` for error frames."""
        for field, attr in enumerate(members):
            if field:
                self.emit(2, f"f = {field}")
            lines(attr)

    def handlers(self, spec: ClassSpec, fields: str, wrap: str, passed: tuple[str, ...] = ()) -> None:
        """Close the ``try:``: errors get the member ``f`` as frame; others become ArchiveError
        by ``wrap``, except the ``passed`` exception types."""
        if self.lines[-1].strip() == "try:":
            self.emit(2, "pass")  # a class without members
        frame = f"({spec.name!r}, {fields}[f])"
        self.emit(1, "except ArchiveError as exc:", f"    exc.add_frame{frame}", "    raise")
        for name in passed:
            self.emit(1, f"except {name}:", "    raise")
        self.emit(
            1,
            "except Exception as exc:",
            f"    err = {wrap}",
            f"    err.add_frame{frame}",
            "    raise err from exc",
        )

    def compile(self) -> dict[str, Any]:
        for spec in MODEL.classes.values():
            if spec.abstract:
                continue
            self.encoder(spec, False)
            self.decoder(spec, False)
            if spec.children:
                self.encoder(spec, True)
                self.decoder(spec, True)
            else:
                self.emit(0, f"e_{spec.name}_f = e_{spec.name}_a")
                self.emit(0, f"d_{spec.name}_f = d_{spec.name}_a")
        namespace: dict[str, Any] = {
            "ArchiveError": ArchiveError,
            "Time": Time,
            "new": object.__new__,
            "new_time": tuple.__new__,
            "pack_i": _pack_i,
            "pack_ii": _TWO_INTS.pack,
            "pack_d": _DOUBLE.pack,
            "pack_doubles": _pack_doubles,
            "pack_complexes": _pack_complexes,
            "pack_times": _pack_times,
            "unpack_i": _unpack_i,
            "unpack_ii": _TWO_INTS.unpack_from,
            "unpack_d": _DOUBLE.unpack_from,
            "read_doubles": _read_doubles,
            "read_complexes": _read_complexes,
            "read_times": _read_times,
            "read_static_header": _read_static_header,
            "read_class_header": _read_class_header,
            "read_dynamic": _read_dynamic,
            "write_header": _write_class_header,
            "element_count": _element_count,
            "bad_length": _bad_length,
            "unknown_enum": _unknown_enum,
            "null_element": _null_element,
            "truncated": _truncated,
            "unencodable": _unencodable,
            "too_new": _too_new,
        }
        namespace.update(self.constants)
        source = "\n".join(self.lines) + "\n"
        exec(compile(source, f"<scba codec {self.version}>", "exec"), namespace)
        return namespace


class _Codebook:
    """The compiled encoders and decoders of every class for one archive layout."""

    def __init__(self, version: Version, too_new: bool) -> None:
        self.version = version
        namespace = _Compiler(version, too_new).compile()
        namespace["book"] = self
        self._encoders: dict[tuple[type, bool], Callable[..., None]] = {}
        self._decoders: dict[tuple[str, bool], Callable[..., tuple[Any, int]] | None] = {}
        for spec in MODEL.classes.values():
            for children in (False, True):
                suffix = "f" if children else "a"
                if spec.abstract:
                    self._decoders[(spec.rtti_name, children)] = None
                    continue
                self._encoders[(CLASSES[spec.name], children)] = namespace[f"e_{spec.name}_{suffix}"]
                self._decoders[(spec.rtti_name, children)] = namespace[f"d_{spec.name}_{suffix}"]

    def encoder(self, cls: type, children: bool) -> Callable[..., None]:
        try:
            return self._encoders[(cls, children)]
        except KeyError:
            raise ArchiveError(f"{cls.__name__} is not a class of the data model") from None

    def decoder(self, rtti_name: str, children: bool) -> Callable[..., tuple[Any, int]] | None:
        return self._decoders[(rtti_name, children)]


def _codebook(version: Version) -> _Codebook:
    """The codebook for archives of ``version``, shared by every version of the same layout."""
    return _layout_codebook(MODEL.layout(version), version > CURRENT_VERSION)


@functools.cache
def _layout_codebook(layout: Version, too_new: bool) -> _Codebook:
    return _Codebook(layout, too_new)


# ---------------------------------------------------------------------------------------------
# Public interface


def encode(obj: BaseObject, version: Version | int | str | None = CURRENT_VERSION) -> bytes:
    """The versioned binary archive of ``obj`` (normally a message), as SeisComP3 writes it.

    ``version`` is the schema version to write: members introduced later are left out. Version
    0.0 (or 0) writes no header at all; ``None`` or -1 mean the current version (0.11).
    Raises ArchiveError if the object holds something the archive cannot carry.
    """
    version = as_version(version)
    if not isinstance(obj, BaseObject) or type(obj).SPEC.abstract:
        raise ArchiveError(f"cannot archive a {type(obj).__name__}")
    book = _codebook(version)
    out = bytearray()
    if version != UNVERSIONED:
        out += MAGIC
        out += _pack_i(version.packed)
    ids: dict[str, int] = {}
    cls = type(obj)
    _write_class_header(out, ids, cls.SPEC.rtti_name)
    out += b"\x01"
    try:
        book.encoder(cls, True)(obj, out, ids)
    except RecursionError:
        raise ArchiveError("object graph too deep or cyclic") from None
    return bytes(out)


def archive_version(data: bytes) -> tuple[Version, int]:
    """The version of an archive and the offset where its content starts (0.0 without header)."""
    if data[:4] != MAGIC:
        return UNVERSIONED, 0
    if len(data) < 8:
        raise ArchiveError("input ends inside the archive header", offset=4)
    packed = _unpack_i(data, 4)[0]
    if packed <= 0:
        raise ArchiveError(f"invalid archive version {packed:#x}", offset=4)
    return Version.from_packed(packed), 8


def decode(
    data: bytes | bytearray | memoryview,
    expected: str | type[BaseObject] = "BaseObject",
    *,
    max_elements: int = MAX_ELEMENTS,
) -> BaseObject:
    """The object held by a versioned binary archive (header detected as SeisComP3 does).

    ``expected`` (an RTTI name such as ``"Message"`` or a class) is the class the archive must
    hold, or a base of it. Trailing bytes after the object are ignored, as SeisComP3 does.
    At most ``max_elements`` sequence and child-array elements are accepted in all.
    Raises ArchiveError, naming the member and byte offset, on anything malformed.
    """
    buf = bytes(data)
    expected_name = expected.SPEC.rtti_name if isinstance(expected, type) else expected
    if expected_name not in BY_RTTI:
        raise ValueError(f"unknown class {expected_name!r}")
    version, pos = archive_version(buf)
    book = _codebook(version)
    st = _ReadState(book, max_elements)
    try:
        name, pos = _read_class_header(buf, pos, st, expected_name)
        if not buf[pos]:
            raise ArchiveError("the archive holds a null object", offset=pos)
        obj, _ = _read_dynamic(buf, pos + 1, st, name, True)
    except ArchiveError:
        raise
    except Exception as exc:
        raise _truncated(exc, pos) from exc
    return obj
