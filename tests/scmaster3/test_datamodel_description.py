"""The packaged model description agrees with the reference extraction of SeisComP3 0.11."""

import json

import pytest

from scmaster3.datamodel import build_description
from scmaster3.datamodel.description import (
    CURRENT_VERSION,
    DESCRIPTION_FILE,
    UNVERSIONED,
    Hint,
    Version,
    as_version,
    load_model,
)

MODEL = load_model()


@pytest.fixture(scope="module")
def reference(shared_dir):
    return json.loads((shared_dir / "reference/sc3/datamodel-0.11.json").read_text(encoding="utf-8"))


def _version(text):
    return None if text is None else Version.parse(text)


def test_packaged_file_is_what_the_generator_writes(reference):
    assert DESCRIPTION_FILE.read_text(encoding="utf-8") == build_description.dumps(
        build_description.build(reference)
    )


def test_counts(reference):
    counts = reference["counts"]
    datamodel = list(MODEL.datamodel_classes())
    assert len(datamodel) == counts["classes"] == 92
    assert sum(c.kind == "public" for c in datamodel) == counts["publicObjectClasses"]
    assert sum(c.kind == "object" for c in datamodel) == counts["objectClasses"]
    assert sum(c.kind == "value" for c in datamodel) == counts["valueClasses"]
    assert sum(c.root for c in datamodel) == counts["rootClasses"]
    assert sum(1 for _ in MODEL.tables()) == counts["dbTablesDerived"]
    assert MODEL.schema_version == CURRENT_VERSION == Version(0, 11)
    assert MODEL.xml_namespace == reference["xmlNamespace"]


def test_enumerations(reference):
    assert set(reference["enumerations"]) == {n for n in MODEL.enums if n != "ApplicationStatus"}
    for name, enum in reference["enumerations"].items():
        spec = MODEL.enums[name]
        values = sorted(enum["values"], key=lambda v: v["index"])
        assert spec.names == tuple(v["name"] for v in values), name
        assert spec.symbols == tuple(v["symbol"] for v in values), name


def test_every_class_in_order_with_kind_base_and_public_id(reference):
    assert [c.name for c in MODEL.datamodel_classes()] == list(reference["classes"])
    bases = {"Core::BaseObject": "BaseObject", "Object": "Object", "PublicObject": "PublicObject"}
    for name, ref in reference["classes"].items():
        spec = MODEL.classes[name]
        assert spec.rtti_name == ref["rttiName"]
        assert spec.kind == ref["kind"]
        assert spec.base == bases[ref["base"]]
        assert spec.has_public_id == ref["hasPublicID"]
        assert spec.root == ref["root"]
        assert spec.fixed_public_id == ref.get("fixedPublicID")
        serialized = ref["publicIDSerialized"]
        assert spec.public_id_serialized == bool(serialized)
        if serialized:
            assert spec.public_id_since == _version(serialized["since"])
        assert spec.index_attributes == tuple(ref["indexAttributes"])
        assert [(p.class_name, p.array_name) for p in spec.parents] == [
            (p["class"], p["arrayName"]) for p in ref["parents"]
        ]
        assert [(c.name, c.class_name, c.since) for c in spec.children] == [
            (c["name"], c["class"], _version(c["since"])) for c in ref["children"]
        ]


def test_every_attribute_in_order_with_type_optional_hints_and_version(reference):
    checked = 0
    for name, ref in reference["classes"].items():
        spec = MODEL.classes[name]
        assert [a.name for a in spec.attributes] == [a["name"] for a in ref["attributes"]], name
        for attr, ref_attr in zip(spec.attributes, ref["attributes"], strict=True):
            where = f"{name}.{attr.name}"
            assert attr.type == ref_attr["type"], where
            assert attr.category == ref_attr["category"], where
            assert attr.optional == ref_attr["optional"], where
            assert attr.hints == Hint.from_names(ref_attr["hints"]), where
            assert attr.xml == ref_attr["xml"], where
            assert attr.xml_mandatory == ref_attr["xmlMandatory"], where
            assert attr.split_time == ref_attr["splitTime"], where
            assert attr.index == ref_attr["index"], where
            assert attr.reference == ref_attr["reference"], where
            assert attr.since == _version(ref_attr["since"]), where
            legacy = ref_attr.get("legacy")
            if legacy:
                assert attr.legacy.before == Version.parse(legacy["before"]), where
                assert attr.legacy.hints == Hint.from_names(legacy["hints"]), where
            else:
                assert attr.legacy is None, where
            checked += 1
    assert checked == 526


def test_database_tables_and_columns(reference):
    columns = 0
    for name, ref in reference["classes"].items():
        table = MODEL.classes[name].table
        if "db" not in ref:
            assert table is None
            continue
        db = ref["db"]
        assert table.name == db["table"]
        assert table.last_modified_column == db["lastModifiedColumn"]
        assert table.unique_composite == tuple(tuple(u) for u in db["uniqueComposite"])
        assert table.secondary_indexes_mysql == tuple(tuple(i) for i in db["secondaryIndexes_mysql"])
        for column, ref_column in zip(table.columns, db["columns"], strict=True):
            assert (column.name, column.kind, column.attr) == (
                ref_column["name"],
                ref_column["kind"],
                ref_column["attr"],
            )
            assert column.not_null == ref_column["notNull"]
            assert (column.index, column.index_hint) == (ref_column["index"], ref_column["indexHint"])
            assert (column.sql_mysql, column.sql_postgresql, column.sql_sqlite3) == (
                ref_column["sql_mysql"],
                ref_column["sql_postgresql"],
                ref_column["sql_sqlite3"],
            )
            columns += 1
    assert columns == reference["counts"]["mysqlColumnsMatched"]


def test_column_versions_follow_the_attributes_they_flatten():
    comment = MODEL.classes["Comment"].table
    assert [c.name for c in comment.columns_in(Version(0, 9))][:2] == ["text", "id"]
    assert "start_ms" in [c.name for c in comment.columns_in(Version(0, 10))]
    station = MODEL.classes["Station"].table
    names_09 = [c.name for c in station.columns_in(Version(0, 9))]
    assert "start" in names_09 and "start_ms" not in names_09
    assert "start_ms" in [c.name for c in station.columns_in(CURRENT_VERSION)]
    magnitude = MODEL.classes["StationMagnitude"].table
    assert "passedQC" not in [c.name for c in magnitude.columns_in(Version(0, 10))]


def test_version_gates():
    arrival = MODEL.classes["Arrival"]
    assert not arrival.attribute("takeOffAngle").present_in(Version(0, 5))
    assert arrival.attribute("takeOffAngle").present_in(Version(0, 6))
    assert [a.name for a in arrival.attributes_in(UNVERSIONED)].count("takeOffAngle") == 0
    stream = MODEL.classes["Stream"]
    assert not stream.writes_public_id(Version(0, 9)) and stream.writes_public_id(Version(0, 10))
    assert not MODEL.classes["EventParameters"].writes_public_id(CURRENT_VERSION)
    inventory = MODEL.classes["Inventory"]
    assert "responseFAP" not in [c.name for c in inventory.children_in(Version(0, 7))]
    assert "responseFAP" in [c.name for c in inventory.children_in(Version(0, 8))]
    start = MODEL.classes["Network"].attribute("start")
    assert not start.hints_in(Version(0, 9)) & Hint.SPLIT_TIME
    assert start.hints_in(Version(0, 10)) & Hint.SPLIT_TIME


def test_layouts_change_only_where_a_member_appears_or_changes():
    assert MODEL.layout_versions == tuple(
        Version.parse(v) for v in ("0.0", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11")
    )
    assert MODEL.layout(Version(0, 0)) == MODEL.layout(Version(0, 5)) == Version(0, 0)
    assert MODEL.layout(Version(0, 10)) == Version(0, 10)
    assert MODEL.layout(Version(0, 12)) == MODEL.layout(Version(7, 0)) == CURRENT_VERSION


def test_versions_given_in_every_form():
    assert as_version(None) == as_version(-1) == as_version("0.11") == as_version(0x0B) == CURRENT_VERSION
    assert as_version(0) == UNVERSIONED and as_version(Version(0, 9)) == Version(0, 9)
    with pytest.raises(ValueError):
        as_version("0.x")
    with pytest.raises(TypeError):
        as_version(0.11)


def test_versions_parse_pack_and_order():
    assert Version.parse("0.11").packed == 0x0000000B
    assert Version.from_packed(0x0001_0002) == Version(1, 2)
    assert str(Version(0, 10)) == "0.10" and Version.parse("1") == Version(1, 0)
    assert Version(0, 9) < Version(0, 10) < Version(1, 0)
    with pytest.raises(ValueError):
        Version.parse("zero.one")


def test_type_hierarchy_and_messages():
    assert MODEL.is_type_of("Object", "Pick")
    assert MODEL.is_type_of("PublicObject", "Pick")
    assert MODEL.is_type_of("BaseObject", "TimeQuantity")
    assert not MODEL.is_type_of("Object", "TimeQuantity")
    assert MODEL.is_type_of("Message", "notifier_message")
    assert MODEL.is_type_of("service_response_message", "database_response_message")
    assert not MODEL.is_type_of("Message", "notifier")
    assert not MODEL.is_type_of("Object", "NoSuchClass")
    rtti = {c.rtti_name for c in MODEL.message_classes()}
    assert rtti == {
        "notifier",
        "notifier_message",
        "data_message",
        "config_sync_message",
        "inventory_sync_message",
        "artificial_origin_message",
        "artificial_ep_message",
        "database_request_message",
        "database_response_message",
        "sync_request_message",
        "sync_response_message",
        "app_stat_msg",
    }
    notifier = MODEL.classes["Notifier"]
    assert [(a.name, a.attr, a.category) for a in notifier.attributes] == [
        ("parentID", "parentID", "primitive"),
        ("operation", "operation", "enum"),
        ("", "object", "object"),
    ]
    assert notifier.attributes[2].hints == Hint.IGNORE_CHILDS


def test_reference_message_members_match(reference):
    for name, ref in reference["messages"].items():
        spec = MODEL.classes[name]
        assert spec.rtti_name == ref["rttiName"]
        assert [
            (a.name, a.type if a.category != "sequence" else f"list<{a.type}>") for a in spec.attributes
        ] == [(m["name"], m["type"]) for m in ref["members"]]
