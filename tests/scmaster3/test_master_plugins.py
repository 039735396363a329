"""Finding and initialising mediator plugins by name."""

from __future__ import annotations

import sys
import types

import pytest

from scmaster3 import datamodel, plugins
from scmaster3.config import Config
from scmaster3.io.payload import encode_payload
from scmaster3.plugins import DataMessage, MasterPlugin, PluginError, find_plugin, load_plugins


class Recording(MasterPlugin):
    name = "recording"

    def init(self, config, prefix="plugins."):
        self.greeting = config.get_string(prefix + "recording.greeting")


def create_recording() -> MasterPlugin:
    return Recording()


@pytest.fixture
def fake_module(monkeypatch):
    module = types.ModuleType("fake_scmaster3_plugin")
    module.create_plugin = create_recording
    module.not_a_plugin = lambda: object()
    module.failing = lambda: Failing()
    monkeypatch.setitem(sys.modules, "fake_scmaster3_plugin", module)
    return module


class Failing(MasterPlugin):
    def init(self, config, prefix="plugins."):
        raise ValueError("cannot work like this")


def config(text: str = "") -> Config:
    loaded = Config()
    loaded.read_text(text)
    return loaded


def test_module_attribute_names_are_loaded_and_initialised_with_the_prefix(fake_module):
    (plugin,) = load_plugins(
        ["fake_scmaster3_plugin:create_plugin"], config("plugins.recording.greeting = hi")
    )
    assert isinstance(plugin, Recording) and plugin.greeting == "hi"


def test_failures_are_plugin_errors(fake_module):
    with pytest.raises(PluginError, match="nosuch"):
        load_plugins(["nosuch"], config())
    with pytest.raises(PluginError, match="not a MasterPlugin"):
        load_plugins(["fake_scmaster3_plugin:not_a_plugin"], config())
    with pytest.raises(PluginError, match="cannot work like this"):
        load_plugins(["fake_scmaster3_plugin:failing"], config())
    with pytest.raises(PluginError, match="initialisation failed"):
        load_plugins(["fake_scmaster3_plugin:create_plugin"], config())  # the key is missing


def test_a_built_in_plugin_that_cannot_be_imported_stops_the_start(monkeypatch):
    monkeypatch.setitem(plugins.KNOWN_PLUGINS, "brokenplugin", "no_such_package.plugin:create_plugin")
    with pytest.raises(PluginError, match="brokenplugin: cannot load no_such_package.plugin:create_plugin"):
        load_plugins(["brokenplugin"], config())


def test_dbplugin_is_a_known_name():
    assert callable(find_plugin("dbplugin"))
    assert plugins.KNOWN_PLUGINS["dbplugin"].startswith("dbplugin.plugin:")


def test_data_message_decodes_its_payload_once_and_tolerates_garbage():
    message = datamodel.SyncRequestMessage(id="x")
    good = DataMessage("#a#b", 1, "STATUS_GROUP", encode_payload(message), "#a#b")
    assert good.payload == message and good.payload is good.payload
    assert good.client_name == "a"
    assert DataMessage("#a#b", 1, "PICK", b"not zlib", "#a#b").payload is None
