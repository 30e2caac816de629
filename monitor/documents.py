"""Our frozen dataclasses as JSON documents, for tables and topics, and back.

pydantic does the conversions (datetimes as ISO 8601, tuples back from lists), checked
against the field types, so each record type does not carry its own hand-written pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    """Building an adapter costs milliseconds; one per type, built on first use."""
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def to_document(value: Any) -> dict[str, Any]:
    document: dict[str, Any] = _adapter(type(value)).dump_python(value, mode="json")
    return document


def from_document(kind: type[T], document: Mapping[str, Any]) -> T:
    value: T = _adapter(kind).validate_python(document)
    return value


class Document:
    """A base for frozen dataclasses that live in tables and on topics."""

    def as_dict(self) -> dict[str, Any]:
        return to_document(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Self:
        return from_document(cls, document)
