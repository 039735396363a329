"""``sccnv3``: convert a SeisComP3 object between archive formats, like SeisComP3's ``sccnv``.

Streams are given as ``[format:][file]``; the format defaults to ``trunk`` and the file to
``-`` (standard input or output). Formats:

* ``trunk``: the sc3ml XML archive (:mod:`scmaster3.io.xml`), written at schema 0.11;
* ``binary``: the versioned binary archive with its ``SCBA`` header (:mod:`scmaster3.io.binary`),
  the bytes SeisComP3's ``VBinaryArchive`` writes for the same object; unversioned input (no
  header) is read as well.

The whole input is read, the first object in it is decoded and written out whole.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from scmaster3.datamodel.description import CURRENT_VERSION
from scmaster3.datamodel.types import BaseObject
from scmaster3.io import binary, xml
from scmaster3.io.errors import ArchiveError

STDIO = "-"
DEFAULT_FORMAT = "trunk"


@dataclass(frozen=True)
class Format:
    name: str
    read: Callable[[bytes], BaseObject]
    write: Callable[[BaseObject, bool, int], bytes]


def _write_trunk(obj: BaseObject, formatted: bool, indent: int) -> bytes:
    return xml.encode(obj, CURRENT_VERSION, formatted=formatted, indent=indent)


def _write_binary(obj: BaseObject, formatted: bool, indent: int) -> bytes:
    return binary.encode(obj, CURRENT_VERSION)


FORMATS: dict[str, Format] = {
    "binary": Format("binary", binary.decode, _write_binary),
    "trunk": Format("trunk", xml.decode, _write_trunk),
}


class UsageError(Exception):
    """A stream or format the command line asks for that cannot be used."""


def split_stream(stream: str) -> tuple[str, str]:
    """``[format:][file]`` to (format, file) with the defaults filled in."""
    fmt, colon, path = stream.partition(":")
    if not colon:
        fmt, path = "", stream
    return fmt or DEFAULT_FORMAT, path or STDIO


def _format(name: str, direction: str) -> Format:
    found = FORMATS.get(name)
    if found is None:
        raise UsageError(f"unknown {direction} format {name!r} (known: {', '.join(FORMATS)})")
    return found


def _read_input(path: str) -> bytes:
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _write_output(path: str, data: bytes) -> None:
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(path, "wb") as stream:
            stream.write(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sccnv3",
        description="Convert a SeisComP3 object between archive formats.",
    )
    group = parser.add_argument_group("Formats")
    group.add_argument("--format-list", action="store_true", help="list all supported formats")
    group = parser.add_argument_group("Input")
    group.add_argument(
        "-i", "--input", default="", metavar="[format:][file]", help="input stream, default trunk:-"
    )
    group = parser.add_argument_group("Output")
    group.add_argument(
        "-o", "--output", default="", metavar="[format:][file]", help="output stream, default trunk:-"
    )
    group.add_argument("-f", "--formatted", action="store_true", help="use formatted output")
    group.add_argument("--indent", type=int, default=2, metavar="N", help="formatted line indent, default 2")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sccnv3``; returns the exit status (0 success, 1 failure, 2 usage)."""
    parser = _arguments()
    args = parser.parse_args(argv)
    if args.format_list:
        print(f"Input formats: {', '.join(FORMATS)}")
        print(f"Output formats: {', '.join(FORMATS)}")
        return 0
    if not args.input and not args.output:
        print("sccnv3: no input and output stream given, nothing to do", file=sys.stderr)
        return 1
    if args.indent < 0:
        parser.error("--indent must not be negative")
    input_format, input_path = split_stream(args.input)
    output_format, output_path = split_stream(args.output)
    try:
        reader = _format(input_format, "input")
        writer = _format(output_format, "output")
        data = _read_input(input_path)
        try:
            obj = reader.read(data)
        except ArchiveError as exc:
            raise UsageError(f"cannot read {input_format} input {input_path}: {exc}") from None
        try:
            result = writer.write(obj, args.formatted, args.indent)
        except ArchiveError as exc:
            raise UsageError(f"cannot write the object as {output_format}: {exc}") from None
        _write_output(output_path, result)
    except UsageError as exc:
        print(f"sccnv3: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
