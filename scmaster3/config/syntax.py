"""The SeisComP configuration file syntax, read into a :class:`~scmaster3.config.store.Config`.

The language, line by line:

* leading and trailing blanks are ignored; ``#`` outside double quotes starts a comment;
  a line ending in ``\\`` continues on the next one (the two are joined without the
  backslash);
* ``name = value`` or ``name = v1, v2, ...`` assigns a value list, replacing any earlier
  one; names are case-sensitive and may contain dots;
* in values, unquoted blanks vanish (``a b`` is ``ab``), ``\\x`` outside quotes stands for
  ``x``, double quotes keep blanks, commas and ``#`` literally (``""`` is an empty string,
  ``\\"`` a quote), and an unquoted comma separates list items; an empty item is an error;
* ``${name}`` inserts the value(s) of an already defined key or, failing that, of an
  environment variable; ``$name`` takes the rest of the value as the name; a reference
  that resolves to nothing is an error unless it is a list item on its own (then it is
  dropped); several values of a reference become several list items;
* ``prefix {`` ... ``}`` prefixes the names assigned inside with ``prefix.``; blocks nest;
* ``include <file>`` reads another file (relative to the including file, ``~`` meaning the
  home directory) into the same block, each file at most once; ``del <name>`` removes a key.

A file with mistakes is read to its end; its good entries take effect, and the first
mistake is then raised as ConfigError naming file, line and, when known, key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scmaster3.config.errors import ConfigError

if TYPE_CHECKING:
    from scmaster3.config.store import Config

_BLANKS = " \t\n\v\f\r"
_BLOCK_OPEN = "{"
_BLOCK_CLOSE = "}"
_INCLUDE = "include"
_DELETE = "del"
_MAX_INCLUDE_DEPTH = 64


# ---------------------------------------------------------------------------------------------
# Lines to entries


def _entries(text: str) -> Iterator[tuple[int, str | None]]:
    """(line number, entry) for every logical entry; entry None marks an unterminated quote."""
    entry = ""
    first_line = 0
    in_quotes = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(_BLANKS)
        if not line:
            continue
        if not entry:
            first_line = number
        kept = []
        previous = ""
        for char in line:
            if char == '"' and previous != "\\":
                in_quotes = not in_quotes
            elif char == "#" and not in_quotes:
                break
            kept.append(char)
            previous = char
        entry = (entry + "".join(kept)).strip(_BLANKS)
        if not entry:
            continue
        if entry.endswith("\\"):
            entry = entry[:-1]
            continue
        if in_quotes:
            in_quotes = False
            yield first_line, None
        else:
            yield first_line, entry
        entry = ""
    if entry:
        yield first_line, ""


def _tokens(entry: str) -> list[str]:
    """Split an entry at blanks and around ``=`` and ``,``; quoted text and escapes stay whole."""
    tokens: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    previous = ""

    def flush() -> None:
        if current:
            tokens.append("".join(current))
            current.clear()

    for char in entry:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif in_quotes:
            current.append(char)
            if char == '"' and previous != "\\":
                in_quotes = False
                flush()
        elif char == "\\":
            escaped = True
        elif char in _BLANKS:
            flush()
        elif char in "=,":
            flush()
            tokens.append(char)
        else:
            if char == '"' and previous != "\\":
                in_quotes = True
            current.append(char)
        previous = char
    if escaped:
        current.append("\\")
    flush()
    return tokens


# ---------------------------------------------------------------------------------------------
# Values


class _Comma:
    """A list separator among the pieces of a value."""


@dataclass(frozen=True)
class _Unresolved:
    """A reference that found neither a key nor an environment variable."""

    name: str


_COMMA = _Comma()
_Piece = str | _Comma | _Unresolved


def evaluate(rvalue: str, lookup: Callable[[str], Sequence[str] | None]) -> list[str]:
    """The value list of the right-hand side of an assignment.

    ``lookup(name)`` gives the values of a reference, or None when it resolves to nothing.
    Raises ValueError with the reason when the text is not a valid value.
    """
    pieces: list[_Piece] = []
    # Characters of the text piece being built; started tells "" (a piece) from nothing.
    text: list[str] = []
    started = False
    in_quotes = False
    position = 0

    def flush() -> None:
        nonlocal started
        if started:
            pieces.append("".join(text))
            text.clear()
            started = False

    while position < len(rvalue):
        char = rvalue[position]
        position += 1
        if in_quotes:
            if char == "\\" and rvalue.startswith('"', position):
                text.append('"')
                position += 1
            elif char == '"':
                in_quotes = False
            else:
                text.append(char)
        elif char == "\\":
            if position < len(rvalue):
                text.append(rvalue[position])
                started = True
                position += 1
        elif char == '"':
            in_quotes = True
            started = True
        elif char == ",":
            flush()
            pieces.append(_COMMA)
        elif char == "$":
            flush()
            name, position = _reference_name(rvalue, position)
            values = lookup(name)
            if values is None:
                pieces.append(_Unresolved(name))
            else:
                for index, value in enumerate(values):
                    if index:
                        pieces.append(_COMMA)
                    pieces.append(value)
        elif char not in _BLANKS:
            text.append(char)
            started = True
    if in_quotes:
        raise ValueError('missing terminating " character')
    flush()
    return _items(pieces)


def _reference_name(rvalue: str, position: int) -> tuple[str, int]:
    """The name of the reference whose ``$`` ends just before ``position``, and where it ends."""
    if position >= len(rvalue):
        raise ValueError("stand-alone reference operator $")
    if rvalue[position] != "{":
        return rvalue[position:], len(rvalue)
    end = rvalue.find("}", position + 1)
    name = rvalue[position + 1 : end]
    if end < 0 or "{" in name:
        raise ValueError("missing brace in reference")
    return name, end + 1


def _items(pieces: list[_Piece]) -> list[str]:
    """Join pieces between separators into list items, applying the list rules."""
    groups: list[list[_Piece]] = [[]]
    for piece in pieces:
        if piece is _COMMA:
            groups.append([])
        else:
            groups[-1].append(piece)
    values = []
    for group in groups:
        if not group:
            raise ValueError("invalid list: empty item")
        unresolved = [piece for piece in group if isinstance(piece, _Unresolved)]
        if unresolved:
            if len(group) == 1 and len(groups) > 1:
                continue
            raise ValueError(f"cannot resolve '{unresolved[0].name}'")
        values.append("".join(piece for piece in group if isinstance(piece, str)))
    return values


# ---------------------------------------------------------------------------------------------
# Files


@dataclass
class _FileReader:
    """Reads one file's entries into a Config; included files get a reader of their own."""

    config: Config
    source: str
    directory: Path
    prefix: str
    depth: int = 0
    blocks: list[str] = field(default_factory=list)
    problems: list[ConfigError] = field(default_factory=list)

    def problem(self, reason: str, line: int, key: str | None = None) -> None:
        self.problems.append(ConfigError(reason, file=self.source, line=line, key=key))

    def read(self, text: str) -> None:
        for line, entry in _entries(text):
            if entry is None:
                self.problem('missing terminating " character', line)
            elif entry == "":
                self.problem("file ends inside a continued line", line)
            else:
                self.entry(entry, line)
        if self.blocks:
            self.problem(f"block '{self.blocks[-1]}' is not closed", line=text.count("\n") + 1)

    def block_prefix(self) -> str:
        return self.prefix + "".join(f"{name}." for name in self.blocks)

    def values(self, rvalue: str, line: int, key: str | None = None) -> list[str] | None:
        try:
            return evaluate(rvalue, self.config.lookup)
        except ValueError as exc:
            self.problem(str(exc), line, key)
            return None

    def entry(self, entry: str, line: int) -> None:
        tokens = _tokens(entry)
        if len(tokens) < 2:
            if tokens == [_BLOCK_CLOSE]:
                if not self.blocks:
                    self.problem("unexpected closing brace", line)
                else:
                    self.blocks.pop()
            else:
                self.problem(f"incomplete entry: {entry}", line)
            return
        name = tokens[0]
        if name.startswith("$"):
            self.problem(f"cannot assign to a reference: {name}", line)
        elif name == _INCLUDE:
            self.include(tokens, line)
        elif name == _DELETE:
            for key in self.values("".join(tokens[1:]), line) or ():
                full_name = self.block_prefix() + key
                if not self.config.remove(full_name):
                    self.problem("cannot delete a key that is not set", line, full_name)
        elif len(tokens) == 2 and tokens[1] == _BLOCK_OPEN:
            self.blocks.append(name)
        elif tokens[1] == "=":
            key = self.block_prefix() + name
            if len(tokens) < 3:
                self.problem("value missing in assignment", line, key)
                return
            values = self.values("".join(tokens[2:]), line, key)
            if values is not None:
                self.config.set(key, values, file=self.source, line=line)
        else:
            self.problem(f"invalid entry: {entry}", line)

    def include(self, tokens: list[str], line: int) -> None:
        if len(tokens) != 2:
            self.problem("include takes exactly one file name", line)
            return
        names = self.values(tokens[1], line)
        if not names or not names[0]:
            if names is not None:
                self.problem("include without a file name", line)
            return
        target = os.fsdecode(names[0].encode("latin-1"))
        if target.startswith("~"):
            path = Path(str(self.config.home) + target[1:])
        else:
            path = self.directory / target
        path = Path(os.path.abspath(path))
        if self.config.has_read(path):
            return
        if self.depth >= _MAX_INCLUDE_DEPTH:
            self.problem(f"includes nested deeper than {_MAX_INCLUDE_DEPTH} levels", line)
            return
        try:
            text = read_config_text(path)
        except OSError as exc:
            self.problem(f"cannot read include file {target}: {exc.strerror or exc}", line)
            return
        self.config.mark_read(path)
        nested = _FileReader(self.config, str(path), path.parent, self.block_prefix(), self.depth + 1)
        nested.read(text)
        self.problems.extend(nested.problems)


def read_config_text(path: Path) -> str:
    """A configuration file's text, one character per byte (latin-1).

    Values then reach the wire byte for byte as they are in the file, as with SeisComP3,
    whatever the file's character set.
    """
    return path.read_bytes().decode("latin-1")


def parse_into(config: Config, text: str, source: str, directory: Path) -> None:
    """Read configuration ``text`` (named ``source`` in errors, includes relative to
    ``directory``) into ``config``; raise the first problem after applying every good entry."""
    reader = _FileReader(config, source, directory, prefix="")
    reader.read(text)
    if reader.problems:
        first = reader.problems[0]
        first.further = tuple(reader.problems[1:])
        raise first
