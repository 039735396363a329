"""The SeisComP configuration file language and the typed getters."""

import pytest

from scmaster3.config import Config, ConfigError, evaluate


def parse(text, environ=None, tmp_path=None):
    config = Config(environ=environ or {}, home=tmp_path)
    config.read_text(text, source="test.cfg", directory=tmp_path)
    return config


def values(text, environ=None):
    config = parse(text, environ)
    return {name: list(config.symbol(name).values) for name in config}


def error_of(text, environ=None, tmp_path=None):
    with pytest.raises(ConfigError) as caught:
        parse(text, environ, tmp_path)
    return caught.value


# --- entries and values ---------------------------------------------------------------------


def test_assignments_comments_and_blank_lines():
    text = """
        # a comment line
        a = 1   # trailing comment
           b=two

        c.d.e = x
    """
    assert values(text) == {"a": ["1"], "b": ["two"], "c.d.e": ["x"]}


def test_unquoted_blanks_vanish_and_quotes_keep_them():
    assert values('a = x y  z\nb = "x y, #z"\nc = pre" in "post') == {
        "a": ["xyz"],
        "b": ["x y, #z"],
        "c": ["pre in post"],
    }


def test_empty_strings_and_escapes():
    text = r"""
        empty = ""
        quote = "say \"hi\""
        bare = a\"b
        comma = a\,b
        space = a\ b
        dollar = \$HOME
        backslash = "a\b"
    """
    assert values(text) == {
        "empty": [""],
        "quote": ['say "hi"'],
        "bare": ['a"b'],
        "comma": ["a,b"],
        "space": ["a b"],
        "dollar": ["$HOME"],
        "backslash": ["a\\b"],
    }


def test_lists():
    text = 'l = a, b ,c\nq = "a, b", "", c\none = single'
    assert values(text) == {"l": ["a", "b", "c"], "q": ["a, b", "", "c"], "one": ["single"]}


@pytest.mark.parametrize("rvalue", ["a,,b", "a,", ",a", ","])
def test_empty_list_items_are_errors(rvalue):
    error = error_of(f"x = 1\nkey = {rvalue}\n")
    assert (error.file, error.line, error.key) == ("test.cfg", 2, "key")
    assert "invalid list" in error.reason
    assert str(error) == f"test.cfg:2: key: {error.reason}"


def test_a_later_assignment_replaces_the_whole_list():
    assert values("a = 1, 2, 3\na = 4") == {"a": ["4"]}


def test_keys_are_case_sensitive():
    config = parse("Key = 1\nkey = 2")
    assert config.get_string("Key") == "1"
    assert config.get_string("key") == "2"
    assert "KEY" not in config


def test_line_continuation():
    text = "msgGroups = AMPLITUDE, \\\n            PICK, \\\n\n    LOCATION # last\nnext = 1"
    config = parse(text)
    assert config.get_strings("msgGroups") == ["AMPLITUDE", "PICK", "LOCATION"]
    assert config.symbol("msgGroups").line == 1
    assert config.symbol("next").line == 5


def test_continued_value_is_joined_without_separator():
    assert values("a = abc\\\ndef") == {"a": ["abcdef"]}


def test_quotes_may_span_a_continuation():
    assert values('a = "x \\\ny"') == {"a": ["x y"]}


def test_file_ending_inside_a_continued_line():
    error = error_of("a = 1\nb = 2, \\\n")
    assert (error.line, error.reason) == (2, "file ends inside a continued line")


# --- blocks ---------------------------------------------------------------------------------


def test_blocks_prefix_their_keys_and_nest():
    text = """
        plugins {
            dbPlugin {
                dbDriver = sqlite3
            }
            other = 1
        }
        top = 2
    """
    assert values(text) == {"plugins.dbPlugin.dbDriver": ["sqlite3"], "plugins.other": ["1"], "top": ["2"]}


def test_unclosed_block_and_stray_brace():
    assert "block 'a' is not closed" in error_of("a {\n b = 1\n").reason
    error = error_of("x = 1\n}\n")
    assert (error.line, error.reason) == (2, "unexpected closing brace")


# --- references -----------------------------------------------------------------------------


def test_references_to_keys_and_environment():
    text = """
        base = /opt/sc
        path = ${base}/share
        home = ${HOME}
        list = a, b
        copy = ${list}
        spliced = x${list}y
        quoted = "${base}"
        rest = $base
        keyfirst = ${USER}
        USER = key
        keynow = ${USER}
    """
    result = values(text, environ={"HOME": "/home/op", "USER": "env"})
    assert result["path"] == ["/opt/sc/share"]
    assert result["home"] == ["/home/op"]
    assert result["copy"] == ["a", "b"]
    assert result["spliced"] == ["xa", "by"]
    assert result["quoted"] == ["${base}"]
    assert result["rest"] == ["/opt/sc"]
    assert result["keyfirst"] == ["env"]
    assert result["keynow"] == ["key"]


def test_unresolved_reference_alone_as_a_list_item_is_dropped():
    assert values("a = x, ${nothing}, y\nb = ${nothing}, ${none}") == {"a": ["x", "y"], "b": []}


@pytest.mark.parametrize(
    ("rvalue", "reason"),
    [
        ("${nothing}", "cannot resolve 'nothing'"),
        ("x${nothing}", "cannot resolve 'nothing'"),
        ("a, pre${nothing}", "cannot resolve 'nothing'"),
        ("$", "stand-alone reference operator"),
        ("${open", "missing brace"),
        ("$nothing, x", "cannot resolve 'nothing,x'"),
    ],
)
def test_bad_references(rvalue, reason):
    error = error_of(f"key = {rvalue}")
    assert reason in error.reason
    assert (error.line, error.key) == (1, "key")


def test_evaluate_alone():
    lookup = {"a": ("1", "2")}.get
    assert evaluate('"x", ${a}', lookup) == ["x", "1", "2"]
    with pytest.raises(ValueError, match="terminating"):
        evaluate('"open', lookup)


# --- include and del ------------------------------------------------------------------------


def test_include_relative_home_once_and_in_block(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.cfg").write_text("inner = 1\ninclude ../loop.cfg\n")
    (tmp_path / "loop.cfg").write_text("loop = 1\ninclude sub/inner.cfg\n")
    (tmp_path / "home.cfg").write_text("fromhome = yes\n")
    (tmp_path / "block.cfg").write_text("value = 2\n")
    main = tmp_path / "main.cfg"
    main.write_text("include sub/inner.cfg\ninclude ~/home.cfg\nb {\n include block.cfg\n}\nafter = 3\n")
    config = Config(environ={}, home=tmp_path)
    config.read(main)
    assert {name: config.get_string(name) for name in config} == {
        "inner": "1",
        "loop": "1",
        "fromhome": "yes",
        "b.value": "2",
        "after": "3",
    }
    assert config.symbol("b.value").file == str(tmp_path / "block.cfg")
    assert config.files == {
        tmp_path / name for name in ("main.cfg", "sub/inner.cfg", "loop.cfg", "home.cfg", "block.cfg")
    }


def test_include_of_a_missing_file(tmp_path):
    main = tmp_path / "main.cfg"
    main.write_text("a = 1\ninclude missing.cfg\nb = 2\n")
    config = Config(environ={}, home=tmp_path)
    with pytest.raises(ConfigError) as caught:
        config.read(main)
    assert (caught.value.file, caught.value.line) == (str(main), 2)
    assert "cannot read include file missing.cfg" in caught.value.reason
    assert config.get_string("b") == "2"


def test_mistake_in_an_included_file_names_that_file(tmp_path):
    (tmp_path / "bad.cfg").write_text("ok = 1\nbroken = a,,b\n")
    main = tmp_path / "main.cfg"
    main.write_text("include bad.cfg\nafter = 1\n")
    config = Config(environ={}, home=tmp_path)
    with pytest.raises(ConfigError) as caught:
        config.read(main)
    assert (caught.value.file, caught.value.line, caught.value.key) == (
        str(tmp_path / "bad.cfg"),
        2,
        "broken",
    )
    assert config.get_string("after") == "1"


def test_del_removes_keys():
    assert values("a = 1\nb = 2\nc = 3\ndel a, b\n") == {"c": ["3"]}
    assert values("x {\n a = 1\n del a\n}\n") == {}
    error = error_of("del nothing\n")
    assert (error.key, error.reason) == ("nothing", "cannot delete a key that is not set")


# --- mistakes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lonely", "incomplete entry"),
        ("a b c", "invalid entry"),
        ("a =", "value missing"),
        ("$a = 1", "cannot assign to a reference"),
        ('a = "open', 'missing terminating "'),
        ("include a b", "exactly one file name"),
    ],
)
def test_malformed_entries(text, reason):
    error = error_of("first = 1\n" + text + "\nlast = 2")
    assert reason in error.reason
    assert (error.file, error.line) == ("test.cfg", 2)


def test_entries_around_a_mistake_take_effect_and_further_mistakes_are_kept():
    config = Config(environ={})
    with pytest.raises(ConfigError) as caught:
        config.read_text("a = 1\nbad\nb = 2\nc = ,\nd = 3", source="f.cfg")
    assert [config.get_string(name) for name in ("a", "b", "d")] == ["1", "2", "3"]
    assert "c" not in config
    assert caught.value.line == 2
    assert [(error.line, error.key) for error in caught.value.further] == [(4, "c")]


def test_bytes_are_kept_one_character_per_byte(tmp_path):
    path = tmp_path / "latin.cfg"
    path.write_bytes(b"name = caf\xc3\xa9\nother = \xe9t\xe9\n")
    config = Config(environ={})
    config.read(path)
    assert config.get_string("name").encode("latin-1") == "café".encode()
    assert config.get_string("other").encode("latin-1") == b"\xe9t\xe9"


# --- typed getters --------------------------------------------------------------------------


def test_typed_getters():
    config = parse(
        "s = first, second\ni = 0x1F\no = 010\nn = -5\nd = 2.5e3\nt = TRUE\nf = false\nz = 0\nnz = 7\n"
        "il = 1, 2, 3\ndl = 1, .5\nbl = true, 0, False"
    )
    assert config.get_string("s") == "first"
    assert config.get_strings("s") == ["first", "second"]
    assert (config.get_int("i"), config.get_int("o"), config.get_int("n")) == (31, 8, -5)
    assert config.get_double("d") == 2500.0
    assert [config.get_bool(name) for name in ("t", "f", "z", "nz")] == [True, False, False, True]
    assert config.get_ints("il") == [1, 2, 3]
    assert config.get_doubles("dl") == [1.0, 0.5]
    assert config.get_bools("bl") == [True, False, False]


def test_defaults_and_missing_keys():
    config = parse("a = 1")
    assert config.get_int("missing", 5) == 5
    assert config.get_string("missing", None) is None
    assert config.get_strings("missing", []) == []
    with pytest.raises(ConfigError) as caught:
        config.get_bool("missing")
    assert (caught.value.key, caught.value.file, str(caught.value)) == (
        "missing",
        None,
        "missing: is not set",
    )


@pytest.mark.parametrize(
    ("getter", "value"),
    [
        ("get_int", "1.5"),
        ("get_int", "08"),
        ("get_int", "2147483648"),
        ("get_int", "12abc"),
        ("get_double", "1.5.1"),
        ("get_double", "1e999"),
        ("get_bool", "yes"),
        ("get_bool", "on"),
        ("get_ints", "1, x"),
    ],
)
def test_conversion_errors_name_file_line_and_key(getter, value):
    config = parse(f"other = 1\nkey = {value}")
    with pytest.raises(ConfigError) as caught:
        getattr(config, getter)("key")
    assert (caught.value.file, caught.value.line, caught.value.key) == ("test.cfg", 2, "key")
    assert str(caught.value).startswith("test.cfg:2: key: ")


def test_key_with_an_empty_list_has_no_scalar_value():
    config = parse("a = ${x}, ${y}")
    assert config.get_strings("a") == []
    with pytest.raises(ConfigError, match="has no value"):
        config.get_string("a")
