"""Mediator plugins: what they may do, and how they are found by name.

A plugin sits between the receipt of a data message and its relay (spec sc3-messaging.md
section 4.6). The mediator calls, for every plugin listed in the ``plugins`` parameter, in
that order:

* ``init(config, prefix)`` once at start-up, with the whole configuration and the prefix of
  its keys (``"plugins."``: the dbplugin reads ``plugins.dbPlugin.dbDriver``). Raise
  :class:`PluginError` to abort the start-up.
* ``process(message)`` for every data message, in arrival order, before it is relayed. It
  returns (accepted) or raises (refused): :class:`MessageRefused` with a reason, or any other
  exception, which is logged as a fault of the plugin. It may be a coroutine function or
  return another awaitable: the message is then accepted or refused when that completes
  (returns or raises), and it is relayed only after that, so a plugin that stores the
  message has done so when the message is relayed. A message is relayed only once every
  plugin accepted it; a refused message is not relayed, the refusal is logged and the sender
  is told with a REJECTED_CMD_MSG naming the plugin and the reason.

  Pipelining: the mediator does not wait for one message's awaitable before it hands the
  next messages to the plugins (up to 1024 messages are in flight), so a plugin can gather
  several messages into one database transaction; relay order stays arrival order.
  Awaitables are started as tasks in arrival order, so what a coroutine does before its first
  ``await`` happens in arrival order; order-dependent work (queueing a message for a writer)
  belongs there, or in ``process`` itself before it returns the awaitable. Every plugin's
  ``process`` is called for a message before any of them has accepted it. ``process`` runs
  on the event loop that also reads the bus: blocking work (a database call) belongs in a
  thread, or the bus has to queue for the mediator.
* ``service_message()`` for every newly admitted client, right after its CONNECT_GROUP_OK:
  a message (e.g. ``DatabaseProvideMessage``) to send to that client, or None.
* ``state_of_health()`` for every state-of-health report of the mediator: ``name=value&``
  items appended to it (the dbplugin's ``dbadds=...&``).
* ``close()`` when the mediator stops (may be a coroutine function too).

Finding a plugin by name (:func:`load_plugins`): an entry point of the group
``scmaster3.plugins`` with that name; else the built-in table :data:`KNOWN_PLUGINS`
(``dbplugin`` -> ``dbplugin.plugin:create_plugin``); else a name of the form
``module:attribute``. The object found is called without arguments and must return a
:class:`MasterPlugin`. A name that cannot be loaded is a :class:`PluginError`: the mediator
does not start (a configured dbplugin that is missing would otherwise relay without storing).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata

from scmaster3.config import Config
from scmaster3.datamodel import Message
from scmaster3.io import ArchiveError
from scmaster3.io.payload import decode_payload
from scmaster3.protocol.constants import content_type_of
from scmaster3.protocol.names import client_name

log = logging.getLogger("scmaster3.plugins")

ENTRY_POINT_GROUP = "scmaster3.plugins"
CONFIG_PREFIX = "plugins."
KNOWN_PLUGINS = {"dbplugin": "dbplugin.plugin:create_plugin"}
"""Plugins that ship with this project: name -> ``module:factory``."""


class PluginError(Exception):
    """A plugin cannot be loaded or initialised; the mediator does not start."""


class MessageRefused(Exception):
    """Raised by ``MasterPlugin.process`` to refuse a message; ``reason`` goes to the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DataMessage:
    """A data message as a plugin sees it, before the mediator stamps and relays it.

    ``sender`` is the Spread sender (the private group that sent it to the mediator),
    ``type``, ``destination``, ``data`` and ``private_sender_group`` the envelope fields
    (``private_sender_group`` is the original client). ``payload`` decodes ``data``
    on first use (binary or XML archive by content type) and is None when it cannot be
    decoded; the mediator still relays such a message unchanged.
    """

    __slots__ = ("sender", "type", "destination", "data", "private_sender_group", "_payload", "_decoded")

    def __init__(
        self, sender: str, type_: int, destination: str, data: bytes, private_sender_group: str
    ) -> None:
        self.sender = sender
        self.type = type_
        self.destination = destination
        self.data = data
        self.private_sender_group = private_sender_group
        self._payload: Message | None = None
        self._decoded = False

    @property
    def client_name(self) -> str:
        """The sending client's name (``scautopick`` of ``#scautopick#localhost``)."""
        return client_name(self.private_sender_group)

    @property
    def payload(self) -> Message | None:
        if not self._decoded:
            self._decoded = True
            try:
                self._payload = decode_payload(self.data, content_type_of(self.type))
            except ArchiveError as exc:
                log.debug(
                    "payload from %s to %s not decodable: %s",
                    self.private_sender_group,
                    self.destination,
                    exc,
                )
        return self._payload

    def __repr__(self) -> str:
        return f"DataMessage(type={self.type}, destination={self.destination!r}, from={self.private_sender_group!r})"


class MasterPlugin:
    """Base class of mediator plugins; every hook does nothing unless overridden."""

    name = "plugin"

    def init(self, config: Config, prefix: str = CONFIG_PREFIX) -> None:
        """Read the plugin's parameters (keys under ``prefix``); PluginError to abort the start-up."""

    def process(self, message: DataMessage) -> Awaitable[None] | None:
        """Look at (store, check) a data message before it is relayed; raise to refuse it."""
        return None

    def service_message(self) -> Message | None:
        """A message for every newly admitted client, sent right after CONNECT_GROUP_OK."""
        return None

    def state_of_health(self) -> str:
        """``name=value&`` items for the mediator's state-of-health report."""
        return ""

    def close(self) -> Awaitable[None] | None:
        """Release resources; the mediator is stopping."""
        return None


PluginFactory = Callable[[], MasterPlugin]


def _entry_point(name: str) -> metadata.EntryPoint | None:
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry
    return None


def _resolve(spec: str) -> PluginFactory:
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    factory = module
    for part in (attribute or "create_plugin").split("."):
        factory = getattr(factory, part)
    if not callable(factory):
        raise TypeError(f"{spec} is not callable")
    return factory


def find_plugin(name: str) -> PluginFactory:
    """The factory of plugin ``name``; PluginError when it is not known or cannot be imported."""
    entry = _entry_point(name)
    if entry is not None:
        try:
            return entry.load()
        except Exception as exc:
            raise PluginError(f"plugin {name}: cannot load entry point {entry.value}: {exc}") from exc
    spec = KNOWN_PLUGINS.get(name) or (name if ":" in name else None)
    if spec is not None:
        try:
            return _resolve(spec)
        except (ImportError, AttributeError, TypeError) as exc:
            raise PluginError(f"plugin {name}: cannot load {spec}: {exc}") from exc
    raise PluginError(f"plugin {name} not found (no entry point {ENTRY_POINT_GROUP}:{name}, not built in)")


def load_plugins(names: Sequence[str], config: Config) -> list[MasterPlugin]:
    """Create and initialise the plugins ``names`` in order; PluginError if one fails."""
    plugins = []
    for name in names:
        factory = find_plugin(name)
        try:
            plugin = factory()
        except Exception as exc:
            raise PluginError(f"plugin {name}: cannot be created: {exc}") from exc
        if not isinstance(plugin, MasterPlugin):
            raise PluginError(f"plugin {name}: {type(plugin).__name__} is not a MasterPlugin")
        try:
            plugin.init(config, CONFIG_PREFIX)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {name}: initialisation failed: {exc}") from exc
        log.info("plugin %s loaded", name)
        plugins.append(plugin)
    return plugins
