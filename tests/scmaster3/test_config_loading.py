"""Load order of a module's configuration files, --config-file and path placeholders."""

from pathlib import Path

import pytest

from scmaster3.config import PACKAGED_DEFAULTS_DIR, ConfigError, ConfigLayout, load_module_config


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "seiscomp3"
    home = tmp_path / "home"
    for directory in (root / "etc" / "defaults", home / ".seiscomp3"):
        directory.mkdir(parents=True)
    return ConfigLayout(root=root, home=home)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_six_files_in_order(layout):
    assert layout.module_files("scmaster") == [
        layout.root / "etc/defaults/global.cfg",
        layout.root / "etc/defaults/scmaster.cfg",
        layout.root / "etc/global.cfg",
        layout.root / "etc/scmaster.cfg",
        layout.home / ".seiscomp3/global.cfg",
        layout.home / ".seiscomp3/scmaster.cfg",
    ]


def test_later_files_override_earlier_ones_key_by_key(layout):
    files = layout.module_files("scmaster")
    for level, path in enumerate(files):
        # Each file sets its own key and overrides "winner"; "shared" is set by the first three.
        text = f"level{level} = {level}\nwinner = {level}\n"
        if level < 3:
            text += f"shared = {level}\n"
        write(path, text)
    loaded = load_module_config("scmaster", layout, environ={}, packaged_defaults=False)
    assert loaded.error is None
    assert loaded.files == tuple(files)
    config = loaded.config
    assert config.get_int("winner") == 5
    assert config.get_int("shared") == 2
    assert [config.get_int(f"level{level}") for level in range(6)] == list(range(6))
    assert config.symbol("winner").file == str(files[5])


def test_missing_files_are_skipped_and_packaged_defaults_come_first(layout):
    write(layout.root / "etc/scmaster.cfg", "admin.password = secret\n")
    loaded = load_module_config("scmaster", layout, environ={})
    assert loaded.files == (
        PACKAGED_DEFAULTS_DIR / "global.cfg",
        PACKAGED_DEFAULTS_DIR / "scmaster.cfg",
        layout.root / "etc/scmaster.cfg",
    )
    assert loaded.config.get_string("admin.password") == "secret"
    assert loaded.config.symbol("admin.adminname").file == str(PACKAGED_DEFAULTS_DIR / "scmaster.cfg")


def test_installation_defaults_override_packaged_defaults(layout):
    write(layout.root / "etc/defaults/scmaster.cfg", "msgGroups = PICK\n")
    loaded = load_module_config("scmaster", layout, environ={})
    assert loaded.config.get_strings("msgGroups") == ["PICK"]


def test_global_file_is_read_before_the_module_file_of_each_directory(layout):
    write(layout.root / "etc/global.cfg", "x = global\ny = global\n")
    write(layout.root / "etc/scmaster.cfg", "x = module\n")
    write(layout.root / "etc/defaults/scmaster.cfg", "y = defaults-module\n")
    config = load_module_config("scmaster", layout, environ={}, packaged_defaults=False).config
    assert config.get_string("x") == "module"
    assert config.get_string("y") == "global"


def test_a_mistake_stops_the_sequence_keeping_the_faulty_files_good_entries(layout):
    files = layout.module_files("scmaster")
    write(files[1], "a = defaults\n")
    write(files[3], "before = 1\nbroken = ,\nafter = 2\na = system\n")
    write(files[5], "a = user\nuser = 1\n")
    loaded = load_module_config("scmaster", layout, environ={}, packaged_defaults=False)
    assert loaded.files == (files[1], files[3])
    assert (loaded.error.file, loaded.error.line, loaded.error.key) == (str(files[3]), 2, "broken")
    config = loaded.config
    assert (config.get_string("before"), config.get_string("after"), config.get_string("a")) == (
        "1",
        "2",
        "system",
    )
    assert "user" not in config


def test_a_directory_in_place_of_a_file_is_skipped(layout):
    files = layout.module_files("scmaster")
    files[2].mkdir(parents=True)
    write(files[0], "a = 1\n")
    loaded = load_module_config("scmaster", layout, environ={}, packaged_defaults=False)
    assert loaded.error is None
    assert loaded.files == (files[0],)


def test_local_config_directory_replaces_the_home_directory(tmp_path):
    local = tmp_path / "local"
    layout = ConfigLayout.from_environment(
        {
            "SEISCOMP_ROOT": str(tmp_path / "root"),
            "HOME": str(tmp_path / "home"),
            "SEISCOMP_LOCAL_CONFIG": str(local),
        }
    )
    assert layout.root == tmp_path / "root"
    assert layout.user_dir == local
    assert layout.module_files("scmaster")[4:] == [local / "global.cfg", local / "scmaster.cfg"]
    write(local / "scmaster.cfg", "where = local\n")
    write(tmp_path / "home/.seiscomp3/scmaster.cfg", "where = home\n")
    assert load_module_config("scmaster", layout, environ={}).config.get_string("where") == "local"


def test_layout_from_an_empty_environment_uses_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    layout = ConfigLayout.from_environment({})
    assert (layout.root, layout.home, layout.user_dir) == (tmp_path, tmp_path, tmp_path / ".seiscomp3")


def test_environment_given_to_the_loader_serves_references(layout):
    write(layout.root / "etc/scmaster.cfg", "plugins.dbPlugin.writeConnection = ${DBUSER}@db/sc\n")
    loaded = load_module_config("scmaster", layout, environ={"DBUSER": "sysop"})
    assert loaded.config.get_string("plugins.dbPlugin.writeConnection") == "sysop@db/sc"


# --- --config-file --------------------------------------------------------------------------


def test_config_file_replaces_the_load_order(layout, tmp_path):
    write(layout.root / "etc/scmaster.cfg", "ignored = 1\n")
    alternative = write(tmp_path / "alt.cfg", "only = 1\n")
    loaded = load_module_config("scmaster", layout, config_file="alt.cfg", environ={}, cwd=tmp_path)
    assert loaded.files == (alternative,)
    assert list(loaded.config) == ["only"]
    assert loaded.error is None


def test_config_file_placeholders(layout):
    target = write(layout.user_dir / "alt.cfg", "a = 1\n")
    for spelling in ("@CONFIGDIR@/alt.cfg", "~/.seiscomp3/alt.cfg", "@HOMEDIR@/.seiscomp3/alt.cfg"):
        assert load_module_config("scmaster", layout, config_file=spelling, environ={}).files == (target,)


def test_missing_or_faulty_config_file_raises(layout, tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration file") as caught:
        load_module_config("scmaster", layout, config_file=str(tmp_path / "none.cfg"), environ={})
    assert caught.value.file == str(tmp_path / "none.cfg")
    faulty = write(tmp_path / "faulty.cfg", "a = 1\nb = ,\n")
    with pytest.raises(ConfigError) as caught:
        load_module_config("scmaster", layout, config_file=str(faulty), environ={})
    assert (caught.value.file, caught.value.line, caught.value.key) == (str(faulty), 2, "b")


def test_resolve_path(layout, tmp_path):
    cases = {
        "@ROOTDIR@/x": layout.root / "x",
        "@DEFAULTCONFIGDIR@/x": layout.root / "etc/defaults/x",
        "@SYSTEMCONFIGDIR@/x": layout.root / "etc/x",
        "@DATADIR@/x": layout.root / "share/x",
        "@KEYDIR@/x": layout.root / "etc/key/x",
        "@LOGDIR@/x": layout.home / ".seiscomp3/log/x",
        "@CONFIGDIR@/x": layout.home / ".seiscomp3/x",
        "~/x": layout.home / "x",
        "rel/../x": tmp_path / "x",
        "/abs/x": Path("/abs/x"),
    }
    for text, expected in cases.items():
        assert layout.resolve_path(text, cwd=tmp_path) == expected, text
