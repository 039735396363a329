"""Text to typed values the way SeisComP3's configuration getters convert them.

Integers follow C's ``strtol`` in base 0 (leading blanks, a sign, ``0x`` hexadecimal,
leading-``0`` octal; the whole text must be used), doubles ``strtod`` (decimal, hexadecimal,
``inf``/``nan``; out-of-range values refused), booleans ``true``/``false`` in any case or
else an integer, non-zero meaning true. Each function raises ValueError for text it refuses.
"""

from __future__ import annotations

import math
import re

_BLANKS = "[ \t\n\v\f\r]*"
_INTEGER = re.compile(_BLANKS + r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")
_DECIMAL_FLOAT = re.compile(_BLANKS + r"[+-]?(?P<mantissa>[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(
    _BLANKS + r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
)
_SPECIAL_FLOAT = re.compile(_BLANKS + r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# strtol works on a C long: 64 bits on the platforms SeisComP3 runs on.
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1


def _strtol(text: str) -> int:
    match = _INTEGER.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not an integer")
    sign, hexadecimal, octal, decimal = match.groups()
    if hexadecimal is not None:
        value = int(hexadecimal, 16)
    elif octal is not None:
        value = int(octal, 8)
    else:
        value = int(decimal)
    if sign == "-":
        value = -value
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f"{text!r} is out of range")
    return value


def parse_int(text: str) -> int:
    """An int from text, as strtol in base 0 reads it; the value must fit in 32 bits."""
    value = _strtol(text)
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"{text!r} is out of the 32-bit integer range")
    return value


def parse_double(text: str) -> float:
    """A float from text, as strtod reads it; overflow and underflow to zero are refused."""
    if _SPECIAL_FLOAT.fullmatch(text):
        return float(text.strip())
    if _HEX_FLOAT.fullmatch(text):
        try:
            value = float.fromhex(text.strip())
        except OverflowError:
            raise ValueError(f"{text!r} is too large for a double") from None
    else:
        match = _DECIMAL_FLOAT.fullmatch(text)
        if not match:
            raise ValueError(f"{text!r} is not a number")
        value = float(text.strip())
        if value == 0 and match["mantissa"].strip("0.") != "":
            raise ValueError(f"{text!r} is too small for a double")
    if math.isinf(value):
        raise ValueError(f"{text!r} is too large for a double")
    return value


def parse_bool(text: str) -> bool:
    """A bool from text: ``true``/``false`` in any case, or an integer (non-zero is true)."""
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    try:
        return _strtol(text) != 0
    except ValueError:
        raise ValueError(f"{text!r} is not a boolean") from None
