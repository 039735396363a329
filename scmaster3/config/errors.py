"""The one error of the configuration layer."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration that cannot be read or used.

    ``file`` and ``line`` locate the problem (None when it has no place in a file, e.g. a
    missing required key or a command-line option), ``key`` names the parameter concerned
    when there is one, ``reason`` says what is wrong. ``further`` holds the other problems
    found in the same file after this first one.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.key = key
        self.further: tuple[ConfigError, ...] = ()
        place = ""
        if file is not None:
            place = f"{file}:{line}: " if line is not None else f"{file}: "
        subject = f"{key}: " if key is not None else ""
        super().__init__(f"{place}{subject}{reason}")
