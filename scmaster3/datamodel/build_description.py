"""Build ``model.json``, the packaged data-model description, from the reference extraction.

Run from the repository root::

    python -m scmaster3.datamodel.build_description ../shared/reference/sc3/datamodel-0.11.json

The data-model part (92 classes, 16 enumerations, database columns) is taken from the
reference file; the message classes that travel as payloads are described below by hand
because they live outside the generated data-model sources. The output is deterministic, so
the test suite can check that the packaged file is what this script produces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("model.json")

# Enumerations used only by message classes (not part of the data-model schema).
MESSAGE_ENUMERATIONS: dict[str, Any] = {
    "ApplicationStatus": {
        "source": "src/trunk/libs/seiscomp3/client/application.h",
        "values": [["STARTED", "started"], ["FINISHED", "finished"]],
    },
}

# Abstract classes of the run-time type hierarchy. Readers need them to decide whether a
# class name found in an archive is acceptable where a base class is expected.
ABSTRACT_CLASSES: dict[str, Any] = {
    "BaseObject": {"rtti": "BaseObject", "base": None},
    "Message": {"rtti": "Message", "base": "BaseObject"},
    "Object": {"rtti": "Object", "base": "BaseObject"},
    "PublicObject": {"rtti": "PublicObject", "base": "Object"},
    "ServiceRequestMessage": {"rtti": "service_request_message", "base": "Message"},
    "ServiceProvideMessage": {"rtti": "service_response_message", "base": "Message"},
}


def _member(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    member: dict[str, Any] = {"name": name, "type": type_}
    member.update(extra)
    return member


# The configuration and inventory sync messages serialize the same two members.
_SYNC_MESSAGE_MEMBERS = [
    _member("isFinished", "bool", hints=["XML_ELEMENT", "XML_MANDATORY"]),
    _member("creationInfo", "CreationInfo", optional=True, hints=["STATIC_TYPE", "XML_ELEMENT"]),
]

# Message classes and the notifier. Members are listed in serialization order. A member whose
# archive name is empty gets a Python attribute name through "attr".
MESSAGE_CLASSES: dict[str, Any] = {
    "Notifier": {
        "rtti": "notifier",
        "base": "BaseObject",
        "source": "src/trunk/libs/seiscomp3/datamodel/notifier.cpp",
        "attributes": [
            _member("parentID", "string"),
            _member("operation", "Operation"),
            _member("", "Object", attr="object", category="object", optional=True, hints=["IGNORE_CHILDS"]),
        ],
    },
    "NotifierMessage": {
        "rtti": "notifier_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/datamodel/notifier.cpp",
        "attributes": [_member("", "Notifier", attr="attachments", category="sequence")],
    },
    "DataMessage": {
        "rtti": "data_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/core/datamessage.cpp",
        "attributes": [_member("", "BaseObject", attr="attachments", category="sequence")],
    },
    "ConfigSyncMessage": {
        "rtti": "config_sync_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/datamodel/messages.cpp",
        "attributes": _SYNC_MESSAGE_MEMBERS,
    },
    "InventorySyncMessage": {
        "rtti": "inventory_sync_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/datamodel/messages.cpp",
        "attributes": _SYNC_MESSAGE_MEMBERS,
    },
    "ArtificialOriginMessage": {
        "rtti": "artificial_origin_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/datamodel/messages.cpp",
        "attributes": [_member("origin", "Origin", category="object", optional=True)],
    },
    "ArtificialEventParametersMessage": {
        "rtti": "artificial_ep_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/datamodel/messages.cpp",
        "attributes": [_member("eventParameters", "EventParameters", category="object", optional=True)],
    },
    "DatabaseRequestMessage": {
        "rtti": "database_request_message",
        "base": "ServiceRequestMessage",
        "source": "src/trunk/libs/seiscomp3/communication/servicemessage.cpp",
        "attributes": [_member("name", "string")],
    },
    "DatabaseProvideMessage": {
        "rtti": "database_response_message",
        "base": "ServiceProvideMessage",
        "source": "src/trunk/libs/seiscomp3/communication/servicemessage.cpp",
        "attributes": [_member("name", "string"), _member("parameters", "string")],
    },
    "SyncRequestMessage": {
        "rtti": "sync_request_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/communication/servicemessage.cpp",
        "attributes": [_member("id", "string")],
    },
    "SyncResponseMessage": {
        "rtti": "sync_response_message",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/communication/servicemessage.cpp",
        "attributes": [_member("id", "string")],
    },
    "ApplicationStatusMessage": {
        "rtti": "app_stat_msg",
        "base": "Message",
        "source": "src/trunk/libs/seiscomp3/client/application.cpp",
        "attributes": [
            _member("module", "string"),
            _member("username", "string"),
            _member("status", "ApplicationStatus"),
        ],
    },
}

_BASE_NAMES = {"Core::BaseObject": "BaseObject", "Object": "Object", "PublicObject": "PublicObject"}


def _attribute(attr: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": attr["name"], "type": attr["type"]}
    if attr["optional"]:
        out["optional"] = True
    if attr["hints"]:
        out["hints"] = list(attr["hints"])
    if attr["reference"]:
        out["reference"] = True
    if attr["since"]:
        out["since"] = attr["since"]
    if "legacy" in attr:
        out["legacy"] = {"before": attr["legacy"]["before"], "hints": list(attr["legacy"]["hints"])}
    return out


def _version_key(text: str | None) -> tuple[int, int]:
    if text is None:
        return (0, 0)
    major, minor = text.split(".")
    return (int(major), int(minor))


def _column_since(classes: dict[str, Any], cls: dict[str, Any], column: dict[str, Any]) -> str | None:
    """The schema version from which a column exists: the newest member on its path."""
    since: str | None = None
    current = cls
    attr: dict[str, Any] | None = None
    for part in column["attr"].split("_"):
        attr = next(a for a in current["attributes"] if a["name"] == part)
        if _version_key(attr["since"]) > _version_key(since):
            since = attr["since"]
        if attr["type"] in classes:
            current = classes[attr["type"]]
    assert attr is not None
    legacy = attr.get("legacy")
    if column["kind"] == "microseconds" and legacy and "SPLIT_TIME" not in legacy["hints"]:
        if _version_key(legacy["before"]) > _version_key(since):
            since = legacy["before"]
    return since


def _table(classes: dict[str, Any], cls: dict[str, Any]) -> dict[str, Any]:
    db = cls["db"]
    columns = []
    for column in db["columns"]:
        row = {
            "name": column["name"],
            "kind": column["kind"],
            "attr": column["attr"],
            "notNull": column["notNull"],
            "index": column["index"],
            "indexHint": column["indexHint"],
            "mysql": column["sql_mysql"],
            "postgresql": column["sql_postgresql"],
            "sqlite3": column["sql_sqlite3"],
        }
        since = _column_since(classes, cls, column)
        if since:
            row["since"] = since
        columns.append(row)
    return {
        "table": db["table"],
        "lastModified": db["lastModifiedColumn"],
        "unique": db["uniqueComposite"],
        "secondaryIndexes": db["secondaryIndexes_mysql"],
        "columns": columns,
    }


def _class(classes: dict[str, Any], cls: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"rtti": cls["rttiName"], "kind": cls["kind"], "base": _BASE_NAMES[cls["base"]]}
    if cls["kind"] == "public":
        serialized = cls["publicIDSerialized"]
        out["publicID"] = False if serialized is False else {"since": serialized["since"]}
    if cls["root"]:
        out["root"] = True
        out["fixedPublicID"] = cls["fixedPublicID"]
    out["attributes"] = [_attribute(a) for a in cls["attributes"]]
    out["children"] = [
        {"name": ch["name"], "class": ch["class"], **({"since": ch["since"]} if ch["since"] else {})}
        for ch in cls["children"]
    ]
    out["parents"] = [[p["class"], p["arrayName"]] for p in cls["parents"]]
    out["index"] = list(cls["indexAttributes"])
    if "db" in cls:
        out["db"] = _table(classes, cls)
    return out


def build(reference: dict[str, Any]) -> dict[str, Any]:
    """The packaged description, as a JSON-ready dictionary, from the reference extraction."""
    classes = reference["classes"]
    enumerations = {
        name: {"source": enum["source"], "values": [[v["symbol"], v["name"]] for v in enum["values"]]}
        for name, enum in reference["enumerations"].items()
    }
    return {
        "schemaVersion": reference["schemaVersion"],
        "xmlNamespace": reference["xmlNamespace"],
        "source": reference["source"],
        "enumerations": enumerations,
        "messageEnumerations": MESSAGE_ENUMERATIONS,
        "abstractClasses": ABSTRACT_CLASSES,
        "classes": {name: _class(classes, cls) for name, cls in classes.items()},
        "messageClasses": MESSAGE_CLASSES,
    }


def dumps(description: dict[str, Any]) -> str:
    """JSON text with one attribute, child or column per line: compact yet diffable."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    def block(value: Any, indent: int) -> str:
        pad = " " * indent
        if isinstance(value, dict) and any(isinstance(v, (dict, list)) and v for v in value.values()):
            items = [f"{pad} {one(k)}: {block(v, indent + 1).lstrip()}" for k, v in value.items()]
            return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return pad + "[\n" + ",\n".join(pad + " " + one(v) for v in value) + "\n" + pad + "]"
        return pad + one(value)

    return block(description, 0) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scmaster3.datamodel.build_description <datamodel-0.11.json>", file=sys.stderr)
        return 2
    reference = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    OUTPUT.write_text(dumps(build(reference)), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
