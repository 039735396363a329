"""SeisComP configuration files: syntax, load order, typed getters, scmaster's parameters.

* :mod:`~scmaster3.config.syntax` - the file language (comments, quoting, lists, blocks,
  ``include``, ``del``, ``${...}`` references);
* :mod:`~scmaster3.config.store` - :class:`Config`, the parameters and their typed getters;
* :mod:`~scmaster3.config.values` - text to int, double and bool as SeisComP3 converts;
* :mod:`~scmaster3.config.loader` - installation layout and the load order of a module;
* :mod:`~scmaster3.config.scmaster` - scmaster's parameters with their defaults.

The command line is :mod:`scmaster3.cli`'s.

Every problem is a :class:`ConfigError` naming file, line and key where they are known.
"""

from scmaster3.config.errors import ConfigError
from scmaster3.config.loader import PACKAGED_DEFAULTS_DIR, ConfigLayout, LoadedConfig, load_module_config
from scmaster3.config.scmaster import (
    CODE_DEFAULT_MSG_GROUPS,
    SHIPPED_MSG_GROUPS,
    DbPluginSettings,
    ScmasterSettings,
    sorted_groups,
)
from scmaster3.config.store import REQUIRED, Config, Symbol
from scmaster3.config.syntax import evaluate
from scmaster3.config.values import parse_bool, parse_double, parse_int

__all__ = [
    "CODE_DEFAULT_MSG_GROUPS",
    "PACKAGED_DEFAULTS_DIR",
    "REQUIRED",
    "SHIPPED_MSG_GROUPS",
    "Config",
    "ConfigError",
    "ConfigLayout",
    "DbPluginSettings",
    "LoadedConfig",
    "ScmasterSettings",
    "Symbol",
    "evaluate",
    "load_module_config",
    "parse_bool",
    "parse_double",
    "parse_int",
    "sorted_groups",
]
