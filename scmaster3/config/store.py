"""A set of configuration parameters read from SeisComP configuration files, with typed getters.

Every key holds a list of strings (a single value is a list of one). The getters convert
as SeisComP3's do: a scalar getter uses the first item of the list, :func:`parse_int` and
friends convert it; a list getter converts every item. A conversion that fails raises
ConfigError naming the key and the file and line that set it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from scmaster3.config.errors import ConfigError
from scmaster3.config.syntax import parse_into, read_config_text
from scmaster3.config.values import parse_bool, parse_double, parse_int

_T = TypeVar("_T")
_V = TypeVar("_V")


class _Required:
    """Marks a getter call without a default: an absent key is then an error."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Symbol:
    """One key: its full (dotted) name, its values, and where it was last assigned."""

    name: str
    values: tuple[str, ...]
    file: str | None = None
    line: int | None = None


class Config:
    """The parameters of one program, read from any number of files in order.

    ``environ`` is what ``${VAR}`` falls back to when no key of that name is set (default:
    the process environment); ``home`` is the directory ``~`` stands for in ``include``
    (default: the user's home directory).
    """

    def __init__(self, *, environ: Mapping[str, str] | None = None, home: Path | None = None) -> None:
        self._symbols: dict[str, Symbol] = {}
        self._read_files: set[Path] = set()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.home: Path = Path.home() if home is None else home

    # --- reading ------------------------------------------------------------------------

    def read(self, path: Path | str) -> None:
        """Read one configuration file; later values replace earlier ones key by key.

        OSError if the file cannot be read. ConfigError for the first mistake in it (or in
        a file it includes), raised after every good entry of the file has taken effect.
        An ``include`` of a file read before (directly or by include) is skipped.
        """
        path = Path(os.path.abspath(path))
        text = read_config_text(path)
        self.mark_read(path)
        parse_into(self, text, str(path), path.parent)

    def read_text(self, text: str, source: str = "<string>", directory: Path | None = None) -> None:
        """Read configuration text; ``source`` names it in errors, includes are relative to
        ``directory`` (default: the working directory)."""
        parse_into(self, text, source, Path.cwd() if directory is None else directory)

    def has_read(self, path: Path) -> bool:
        """Whether the file at this absolute path has been read into this configuration."""
        return path in self._read_files

    def mark_read(self, path: Path) -> None:
        """Remember that the file at this absolute path has been read."""
        self._read_files.add(path)

    @property
    def files(self) -> frozenset[Path]:
        """Every file read so far, included ones too."""
        return frozenset(self._read_files)

    # --- the symbol table ---------------------------------------------------------------

    def set(
        self, name: str, values: Sequence[str], *, file: str | None = None, line: int | None = None
    ) -> None:
        """Assign a value list to a key, replacing its values."""
        self._symbols[name] = Symbol(name, tuple(values), file, line)

    def remove(self, name: str) -> bool:
        """Delete a key; False if it was not set."""
        return self._symbols.pop(name, None) is not None

    def lookup(self, name: str) -> tuple[str, ...] | None:
        """What ``${name}`` stands for: the key's values, else the environment variable, else None."""
        symbol = self._symbols.get(name)
        if symbol is not None:
            return symbol.values
        value = self.environ.get(name)
        # Environment strings hold file-system-decoded bytes; keep those bytes as they are.
        return None if value is None else (os.fsencode(value).decode("latin-1"),)

    def symbol(self, name: str) -> Symbol | None:
        """The key with its values and origin, or None if it is not set."""
        return self._symbols.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._symbols

    def __iter__(self) -> Iterator[str]:
        """Key names in the order they were first set."""
        return iter(self._symbols)

    def __len__(self) -> int:
        return len(self._symbols)

    # --- typed getters ------------------------------------------------------------------

    def _scalar(self, name: str, convert: Callable[[str], _V], kind: str, default: _T | _Required) -> _V | _T:
        symbol = self._symbols.get(name)
        if symbol is None:
            if isinstance(default, _Required):
                raise ConfigError("is not set", key=name)
            return default
        if not symbol.values:
            raise ConfigError("has no value", file=symbol.file, line=symbol.line, key=name)
        return _convert(symbol, symbol.values[0], convert, kind)

    def _list(
        self, name: str, convert: Callable[[str], _V], kind: str, default: _T | _Required
    ) -> list[_V] | _T:
        symbol = self._symbols.get(name)
        if symbol is None:
            if isinstance(default, _Required):
                raise ConfigError("is not set", key=name)
            return default
        return [_convert(symbol, value, convert, kind) for value in symbol.values]

    def get_string(self, name: str, default: _T | _Required = REQUIRED) -> str | _T:
        """The key's (first) value; ``default`` if it is not set, or ConfigError without one."""
        return self._scalar(name, str, "a string", default)

    def get_int(self, name: str, default: _T | _Required = REQUIRED) -> int | _T:
        """The key's (first) value as a 32-bit integer (C strtol notation, base 0)."""
        return self._scalar(name, parse_int, "an integer", default)

    def get_double(self, name: str, default: _T | _Required = REQUIRED) -> float | _T:
        """The key's (first) value as a double (C strtod notation)."""
        return self._scalar(name, parse_double, "a number", default)

    def get_bool(self, name: str, default: _T | _Required = REQUIRED) -> bool | _T:
        """The key's (first) value as a boolean: true/false in any case, or an integer (non-zero true)."""
        return self._scalar(name, parse_bool, "a boolean", default)

    def get_strings(self, name: str, default: _T | _Required = REQUIRED) -> list[str] | _T:
        """All the key's values."""
        return self._list(name, str, "a string", default)

    def get_ints(self, name: str, default: _T | _Required = REQUIRED) -> list[int] | _T:
        """All the key's values as 32-bit integers."""
        return self._list(name, parse_int, "an integer", default)

    def get_doubles(self, name: str, default: _T | _Required = REQUIRED) -> list[float] | _T:
        """All the key's values as doubles."""
        return self._list(name, parse_double, "a number", default)

    def get_bools(self, name: str, default: _T | _Required = REQUIRED) -> list[bool] | _T:
        """All the key's values as booleans."""
        return self._list(name, parse_bool, "a boolean", default)


def _convert(symbol: Symbol, value: str, convert: Callable[[str], _V], kind: str) -> _V:
    try:
        return convert(value)
    except ValueError:
        raise ConfigError(
            f"{value!r} is not {kind}", file=symbol.file, line=symbol.line, key=symbol.name
        ) from None
