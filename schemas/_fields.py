"""Helpers to declare documented Arrow fields."""

from __future__ import annotations

import pyarrow as pa


def field(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    """An Arrow field whose metadata holds a human description."""
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def describe(f: pa.Field) -> str:
    meta = f.metadata or {}
    return meta.get(b"description", b"").decode()


def schema_table(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(name, type, description) for every field: used by docs, the CLI and dataset cards."""
    return [(f.name, str(f.type), describe(f)) for f in schema]
