"""The parameters scmaster reads from its configuration, checked and with their defaults.

============================================  ===============================================
key                                           default
============================================  ===============================================
``msgGroups``                                 :data:`CODE_DEFAULT_MSG_GROUPS` when absent from
                                              every file; the shipped defaults file sets
                                              :data:`SHIPPED_MSG_GROUPS`
``schemaVersionOverride``                     unset: announce the compiled version 0.11
``admin.adminname``                           empty, meaning ``ADMIN``
``admin.password``                            empty, meaning no password check
``plugins``                                   unset (``dbplugin`` activates storage)
``core.plugins``                              unset
``plugins.dbPlugin.dbDriver``                 unset; required when dbplugin is loaded
``plugins.dbPlugin.writeConnection``          unset; required when dbplugin is loaded
``plugins.dbPlugin.readConnection``           unset: no database address for clients
``plugins.dbPlugin.strictVersionCheck``       true
============================================  ===============================================

scmaster reads nothing else from the configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scmaster3.config.errors import ConfigError
from scmaster3.config.store import Config, Symbol
from scmaster3.protocol.constants import ALWAYS_ACCEPTED_GROUPS, DEFAULT_ADMIN_CLIENT_NAME, SCHEMA_VERSION

# The groups scmaster falls back to when no file sets msgGroups.
CODE_DEFAULT_MSG_GROUPS = (
    "AMPLITUDE",
    "PICK",
    "LOCATION",
    "MAGNITUDE",
    "EVENT",
    "QC",
    "PUBLICATION",
    "GUI",
    "INVENTORY",
    "CONFIG",
    "LOGGING",
    "SERVICE_REQUEST",
    "SERVICE_PROVIDE",
)
# The groups of the shipped defaults file (scmaster3/etc/scmaster.cfg): the effective default.
SHIPPED_MSG_GROUPS = (
    "AMPLITUDE",
    "PICK",
    "LOCATION",
    "MAGNITUDE",
    "FOCMECH",
    "EVENT",
    "QC",
    "PUBLICATION",
    "GUI",
    "INVENTORY",
    "ROUTING",
    "CONFIG",
    "LOGGING",
    "SERVICE_REQUEST",
    "SERVICE_PROVIDE",
)
DB_PLUGIN = "dbplugin"

_SCHEMA_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")


def sorted_groups(groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Groups as the master reports them: without empty names and duplicates, in byte order."""
    # Configuration text is one character per byte, so code point order is byte order.
    return tuple(sorted({group for group in groups if group}))


@dataclass(frozen=True)
class DbPluginSettings:
    """The ``plugins.dbPlugin.*`` parameters; None means unset (an empty value counts as unset)."""

    db_driver: str | None = None
    write_connection: str | None = None
    read_connection: str | None = None
    strict_version_check: bool = True


@dataclass(frozen=True)
class ScmasterSettings:
    """Everything scmaster takes from its configuration.

    ``msg_groups`` are sorted and de-duplicated (the order of the CONNECT_GROUP_OK list),
    ``admin_name`` is already ``ADMIN`` when the configuration leaves it empty, and
    ``admin_password`` empty means no check. Plugin lists leave out empty names, so
    ``plugins = ""`` means none.
    """

    msg_groups: tuple[str, ...] = sorted_groups(list(CODE_DEFAULT_MSG_GROUPS))
    schema_version_override: tuple[int, int] | None = None
    admin_name: str = DEFAULT_ADMIN_CLIENT_NAME
    admin_password: str = ""
    plugins: tuple[str, ...] = ()
    core_plugins: tuple[str, ...] = ()
    db_plugin: DbPluginSettings = field(default_factory=DbPluginSettings)

    @property
    def schema_version(self) -> tuple[int, int]:
        """The schema version announced in CONNECT_GROUP_OK: the override or the compiled one."""
        return self.schema_version_override or SCHEMA_VERSION

    @property
    def accepted_primary_groups(self) -> frozenset[str]:
        """The primary groups a client may connect with: msgGroups and the always accepted ones."""
        return frozenset(self.msg_groups) | ALWAYS_ACCEPTED_GROUPS

    @property
    def db_plugin_enabled(self) -> bool:
        """Whether ``plugins`` loads the dbplugin."""
        return DB_PLUGIN in self.plugins

    @classmethod
    def from_config(cls, config: Config) -> ScmasterSettings:
        """Take scmaster's parameters from a configuration.

        ConfigError (naming key, file and line) for a value of the wrong type, an
        unreadable or too new ``schemaVersionOverride``, or a dbplugin without
        ``dbDriver``/``writeConnection``.
        """
        groups = config.get_strings("msgGroups", None)
        plugins = tuple(name for name in config.get_strings("plugins", []) if name)
        db_plugin = DbPluginSettings(
            db_driver=config.get_string("plugins.dbPlugin.dbDriver", "") or None,
            write_connection=config.get_string("plugins.dbPlugin.writeConnection", "") or None,
            read_connection=config.get_string("plugins.dbPlugin.readConnection", "") or None,
            strict_version_check=config.get_bool("plugins.dbPlugin.strictVersionCheck", True),
        )
        if DB_PLUGIN in plugins:
            for key, value in (
                ("plugins.dbPlugin.dbDriver", db_plugin.db_driver),
                ("plugins.dbPlugin.writeConnection", db_plugin.write_connection),
            ):
                if value is None:
                    raise ConfigError("is required when dbplugin is loaded", key=key)
        return cls(
            msg_groups=sorted_groups(CODE_DEFAULT_MSG_GROUPS if groups is None else groups),
            schema_version_override=_schema_version_override(config.symbol("schemaVersionOverride")),
            admin_name=config.get_string("admin.adminname", "") or DEFAULT_ADMIN_CLIENT_NAME,
            admin_password=config.get_string("admin.password", ""),
            plugins=plugins,
            core_plugins=tuple(name for name in config.get_strings("core.plugins", []) if name),
            db_plugin=db_plugin,
        )


def _schema_version_override(symbol: Symbol | None) -> tuple[int, int] | None:
    if symbol is None:
        return None

    def refuse(reason: str) -> ConfigError:
        return ConfigError(reason, file=symbol.file, line=symbol.line, key=symbol.name)

    text = symbol.values[0] if symbol.values else ""
    match = _SCHEMA_VERSION.fullmatch(text)
    if not match:
        raise refuse(f"{text!r} is not a version of the form <major>.<minor>")
    version = (int(match[1]), int(match[2]))
    if max(version) >= 65536:
        raise refuse(f"{text!r}: major and minor must be below 65536")
    if version > SCHEMA_VERSION:
        raise refuse(
            f"{text!r} is newer than the supported schema version {SCHEMA_VERSION[0]}.{SCHEMA_VERSION[1]}"
        )
    return version
