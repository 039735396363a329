"""scmaster's parameters with their defaults and the shipped defaults files."""

import pytest

from scmaster3.config import (
    CODE_DEFAULT_MSG_GROUPS,
    PACKAGED_DEFAULTS_DIR,
    SHIPPED_MSG_GROUPS,
    Config,
    ConfigError,
    ConfigLayout,
    DbPluginSettings,
    ScmasterSettings,
    load_module_config,
)
from scmaster3.protocol import ConnectOk

SCMASTER_KEYS = (
    "msgGroups",
    "schemaVersionOverride",
    "admin.adminname",
    "admin.password",
    "plugins",
    "core.plugins",
    "plugins.dbPlugin.dbDriver",
    "plugins.dbPlugin.writeConnection",
    "plugins.dbPlugin.readConnection",
    "plugins.dbPlugin.strictVersionCheck",
)


def settings_of(text):
    config = Config(environ={})
    config.read_text(text, source="scmaster.cfg")
    return ScmasterSettings.from_config(config)


def shipped_settings(tmp_path):
    layout = ConfigLayout(root=tmp_path / "root", home=tmp_path / "home")
    loaded = load_module_config("scmaster", layout, environ={})
    assert loaded.error is None
    return ScmasterSettings.from_config(loaded.config)


def test_defaults_when_no_file_sets_anything():
    settings = settings_of("")
    assert settings == ScmasterSettings()
    assert settings.msg_groups == tuple(sorted(CODE_DEFAULT_MSG_GROUPS))
    assert len(settings.msg_groups) == 13
    assert settings.schema_version_override is None
    assert settings.schema_version == (0, 11)
    assert settings.admin_name == "ADMIN"
    assert settings.admin_password == ""
    assert settings.plugins == settings.core_plugins == ()
    assert settings.db_plugin == DbPluginSettings(None, None, None, True)
    assert not settings.db_plugin_enabled


def test_shipped_defaults_give_the_groups_of_the_capture(shared_dir, tmp_path):
    settings = shipped_settings(tmp_path)
    ok_text = next((shared_dir / "golden/sc3/payloads").glob("*CONNECT_GROUP_OK_MSG*.data.txt")).read_text()
    assert settings.msg_groups == ConnectOk.parse(ok_text, "1.1").groups
    assert settings.msg_groups == tuple(sorted(SHIPPED_MSG_GROUPS))
    assert settings.admin_name == "ADMIN"
    assert settings.db_plugin.strict_version_check is True
    assert settings.schema_version == (0, 11)


def test_shipped_defaults_files_document_every_scmaster_key():
    text = (PACKAGED_DEFAULTS_DIR / "scmaster.cfg").read_text() + (
        PACKAGED_DEFAULTS_DIR / "global.cfg"
    ).read_text()
    for key in SCMASTER_KEYS:
        assert f"{key} =" in text, key
    global_config = Config(environ={})
    global_config.read(PACKAGED_DEFAULTS_DIR / "global.cfg")
    assert global_config.get_string("connection.server") == "localhost"
    assert global_config.get_int("connection.timeout") == 3
    assert global_config.get_string("connection.encoding") == "binary"


def test_configuration_of_the_capture(shared_dir):
    # The scmaster configuration the golden captures were recorded with.
    settings = settings_of(
        "msgGroups = AMPLITUDE, PICK, LOCATION, MAGNITUDE, FOCMECH, EVENT, QC, PUBLICATION, GUI, INVENTORY, "
        "ROUTING, CONFIG, LOGGING, SERVICE_REQUEST, SERVICE_PROVIDE\n"
        'admin.adminname = ""\nadmin.password = ""\ncore.plugins = dbsqlite3\nplugins = dbplugin\n'
        "plugins.dbPlugin.dbDriver = sqlite3\nplugins.dbPlugin.writeConnection = seiscomp3.sqlite\n"
        "plugins.dbPlugin.readConnection = seiscomp3.sqlite\nplugins.dbPlugin.strictVersionCheck = false\n"
    )
    assert settings.admin_name == "ADMIN"
    assert settings.plugins == ("dbplugin",)
    assert settings.core_plugins == ("dbsqlite3",)
    assert settings.db_plugin_enabled
    assert settings.db_plugin == DbPluginSettings("sqlite3", "seiscomp3.sqlite", "seiscomp3.sqlite", False)
    assert len(settings.db_plugin.read_connection) == 16


def test_msg_groups_are_sorted_and_deduplicated():
    settings = settings_of('msgGroups = PICK, AMPLITUDE, PICK, "", Zeta, alpha')
    assert settings.msg_groups == ("AMPLITUDE", "PICK", "Zeta", "alpha")
    assert settings.accepted_primary_groups == frozenset(
        {
            "AMPLITUDE",
            "PICK",
            "Zeta",
            "alpha",
            "ADMIN_GROUP",
            "LISTENER_GROUP",
            "IMPORT_GROUP",
            "STATUS_GROUP",
        }
    )


def test_admin_settings():
    settings = settings_of("admin.adminname = boss\nadmin.password = s3cret")
    assert (settings.admin_name, settings.admin_password) == ("boss", "s3cret")


def test_empty_plugin_list_means_none():
    settings = settings_of('plugins = ""\ncore.plugins = ""')
    assert settings.plugins == settings.core_plugins == ()


def test_empty_read_connection_means_unset():
    settings = settings_of('plugins.dbPlugin.readConnection = ""')
    assert settings.db_plugin.read_connection is None


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("plugins = dbplugin", "plugins.dbPlugin.dbDriver"),
        ("plugins = dbplugin\nplugins.dbPlugin.dbDriver = mysql", "plugins.dbPlugin.writeConnection"),
        (
            'plugins = dbplugin\nplugins.dbPlugin.dbDriver = ""\nplugins.dbPlugin.writeConnection = x',
            "plugins.dbPlugin.dbDriver",
        ),
    ],
)
def test_dbplugin_requires_driver_and_write_connection(text, missing):
    with pytest.raises(ConfigError, match="required when dbplugin is loaded") as caught:
        settings_of(text)
    assert caught.value.key == missing


def test_strict_version_check_must_be_a_boolean():
    with pytest.raises(ConfigError) as caught:
        settings_of("a = 1\nplugins.dbPlugin.strictVersionCheck = maybe")
    assert (caught.value.file, caught.value.line, caught.value.key) == (
        "scmaster.cfg",
        2,
        "plugins.dbPlugin.strictVersionCheck",
    )


@pytest.mark.parametrize(("text", "version"), [("0.6", (0, 6)), ("0.11", (0, 11)), ("0.0", (0, 0))])
def test_schema_version_override(text, version):
    settings = settings_of(f"schemaVersionOverride = {text}")
    assert settings.schema_version_override == version
    assert settings.schema_version == version


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0.12", "newer than the supported schema version 0.11"),
        ("1.0", "newer than"),
        ("abc", "not a version"),
        ("0.11.1", "not a version"),
        ("70000.1", "below 65536"),
        ('""', "not a version"),
    ],
)
def test_bad_schema_version_override(text, reason):
    with pytest.raises(ConfigError, match=reason) as caught:
        settings_of(f"# schema\nschemaVersionOverride = {text}")
    assert (caught.value.file, caught.value.line, caught.value.key) == (
        "scmaster.cfg",
        2,
        "schemaVersionOverride",
    )


# --- command line ---------------------------------------------------------------------------
