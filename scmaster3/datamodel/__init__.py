"""The SeisComP3 data model: one description of schema 0.11 and the object types built from it.

Every class and enumeration of the description is importable from here by name::

    from scmaster3.datamodel import Pick, TimeQuantity, EvaluationMode, Notifier, NotifierMessage

``CLASSES``, ``BY_RTTI`` and ``ENUMS`` map names to the same types; ``MODEL`` is the typed
description (``scmaster3.datamodel.description``).
"""

from typing import Any

from scmaster3.datamodel.description import CURRENT_VERSION, UNVERSIONED, Hint, Model, Version, load_model
from scmaster3.datamodel.timestamp import Time
from scmaster3.datamodel.types import (
    BY_RTTI,
    CLASSES,
    ENUMS,
    MODEL,
    BaseObject,
    Message,
    Object,
    PublicObject,
)

__all__ = [
    "BY_RTTI",
    "CLASSES",
    "CURRENT_VERSION",
    "ENUMS",
    "MODEL",
    "UNVERSIONED",
    "BaseObject",
    "Hint",
    "Message",
    "Model",
    "Object",
    "PublicObject",
    "Time",
    "Version",
    "load_model",
]


def __getattr__(name: str) -> Any:
    """Generated classes and enumerations, looked up by name (``scmaster3.datamodel.Pick``)."""
    found = CLASSES.get(name) or ENUMS.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(CLASSES) | set(ENUMS))
