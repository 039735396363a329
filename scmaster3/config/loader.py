"""Where a SeisComP module's configuration files are and the order they are read in.

For module ``<m>`` the files are read in this order, each only if it exists, later values
replacing earlier ones key by key:

0. the defaults shipped with this package (``scmaster3/etc/global.cfg``, ``<m>.cfg``),
   standing in for a SeisComP installation's ``etc/defaults``;
1. ``$SEISCOMP_ROOT/etc/defaults/global.cfg``, 2. ``etc/defaults/<m>.cfg``,
3. ``$SEISCOMP_ROOT/etc/global.cfg``, 4. ``etc/<m>.cfg``,
5. ``~/.seiscomp3/global.cfg``, 6. ``~/.seiscomp3/<m>.cfg``
   (the user directory is ``$SEISCOMP_LOCAL_CONFIG`` when that is set).

A file with a mistake stops the sequence: its good entries are kept, later files are not
read, and the mistake is reported in :attr:`LoadedConfig.error` (scmaster runs on with what
was loaded). A ``--config-file`` replaces the whole sequence with that one file; then a
missing file or a mistake raises ConfigError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scmaster3.config.errors import ConfigError
from scmaster3.config.store import Config

PACKAGED_DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "etc"
GLOBAL = "global"


@dataclass(frozen=True)
class ConfigLayout:
    """The directories of a SeisComP installation and of its user.

    ``root`` is the installation directory ($SEISCOMP_ROOT), ``home`` the user's home
    directory, ``local_config`` the user configuration directory when it is not
    ``<home>/.seiscomp3`` ($SEISCOMP_LOCAL_CONFIG).
    """

    root: Path
    home: Path
    local_config: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ConfigLayout:
        """The layout the environment describes: SEISCOMP_ROOT (default: the working
        directory), HOME (default: the working directory) and SEISCOMP_LOCAL_CONFIG."""
        environ = os.environ if environ is None else environ
        local = environ.get("SEISCOMP_LOCAL_CONFIG")
        return cls(
            root=Path(os.path.abspath(environ.get("SEISCOMP_ROOT") or ".")),
            home=Path(os.path.abspath(environ.get("HOME") or ".")),
            local_config=Path(os.path.abspath(local)) if local else None,
        )

    @property
    def defaults_dir(self) -> Path:
        """``@DEFAULTCONFIGDIR@``: ``<root>/etc/defaults``."""
        return self.root / "etc" / "defaults"

    @property
    def system_dir(self) -> Path:
        """``@SYSTEMCONFIGDIR@``: ``<root>/etc``."""
        return self.root / "etc"

    @property
    def user_dir(self) -> Path:
        """``@CONFIGDIR@``: ``$SEISCOMP_LOCAL_CONFIG`` or ``<home>/.seiscomp3``."""
        return self.local_config if self.local_config is not None else self.home / ".seiscomp3"

    @property
    def data_dir(self) -> Path:
        """``@DATADIR@``: ``<root>/share``."""
        return self.root / "share"

    @property
    def log_dir(self) -> Path:
        """``@LOGDIR@``: ``<user dir>/log``."""
        return self.user_dir / "log"

    @property
    def key_dir(self) -> Path:
        """``@KEYDIR@``: ``<root>/etc/key``."""
        return self.root / "etc" / "key"

    def module_files(self, module: str) -> list[Path]:
        """The six files of the load order for ``module``, whether they exist or not."""
        return [
            directory / f"{name}.cfg"
            for directory in (self.defaults_dir, self.system_dir, self.user_dir)
            for name in (GLOBAL, module)
        ]

    def resolve_path(self, path: str, cwd: Path | None = None) -> Path:
        """A path as SeisComP resolves one given on the command line.

        The placeholders ``@ROOTDIR@``, ``@CONFIGDIR@``, ``@DEFAULTCONFIGDIR@``,
        ``@SYSTEMCONFIGDIR@``, ``@DATADIR@``, ``@LOGDIR@``, ``@KEYDIR@``, ``@HOMEDIR@`` and a
        leading ``~/`` are expanded; a relative result is taken from ``cwd`` (default: the
        working directory).
        """
        for placeholder, directory in (
            ("@ROOTDIR@", self.root),
            ("@CONFIGDIR@", self.user_dir),
            ("@DEFAULTCONFIGDIR@", self.defaults_dir),
            ("@SYSTEMCONFIGDIR@", self.system_dir),
            ("@DATADIR@", self.data_dir),
            ("@LOGDIR@", self.log_dir),
            ("@KEYDIR@", self.key_dir),
            ("@HOMEDIR@", self.home),
        ):
            path = path.replace(placeholder, str(directory))
        if path == "~" or path.startswith("~/"):
            path = str(self.home) + path[1:]
        base = Path.cwd() if cwd is None else cwd
        return Path(os.path.abspath(base / path))


@dataclass(frozen=True)
class LoadedConfig:
    """The outcome of reading a module's configuration.

    ``config`` holds what was read, ``files`` the files of the load order that were read
    (in order, including one that had a mistake), ``error`` the mistake that stopped the
    sequence, if any.
    """

    config: Config
    files: tuple[Path, ...]
    error: ConfigError | None = None


def load_module_config(
    module: str,
    layout: ConfigLayout,
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    packaged_defaults: bool = True,
    cwd: Path | None = None,
) -> LoadedConfig:
    """Read the configuration of ``module`` (e.g. ``scmaster``) in SeisComP's load order.

    With ``config_file`` (the ``--config-file`` option) only that file is read, after
    :meth:`ConfigLayout.resolve_path`; a missing file or a mistake in it raises ConfigError.
    Otherwise the load order of the module documentation applies and a mistake ends up in
    :attr:`LoadedConfig.error`. ``environ`` serves ``${VAR}`` references (default: the
    process environment); ``packaged_defaults`` False leaves out this package's defaults.
    """
    config = Config(environ=environ, home=layout.home)
    if config_file is not None:
        path = layout.resolve_path(config_file, cwd)
        try:
            config.read(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot read configuration file: {exc.strerror or exc}", file=str(path)
            ) from None
        return LoadedConfig(config, (path,))
    candidates = layout.module_files(module)
    if packaged_defaults:
        candidates = [PACKAGED_DEFAULTS_DIR / f"{name}.cfg" for name in (GLOBAL, module)] + candidates
    files: list[Path] = []
    for path in candidates:
        if not path.is_file():
            continue
        files.append(path)
        try:
            config.read(path)
        except ConfigError as exc:
            return LoadedConfig(config, tuple(files), exc)
        except OSError as exc:
            error = ConfigError(f"cannot read configuration file: {exc.strerror or exc}", file=str(path))
            return LoadedConfig(config, tuple(files), error)
    return LoadedConfig(config, tuple(files))
