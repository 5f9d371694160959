"""The registry layer: data model, import (CSV folder, Excel, REDCap), validation, store.

Public API (see ``docs/registry.md``):

* :func:`read_registry` (path -> (tables, report of read/parse problems)),
* :func:`validate` (tables -> :class:`ValidationReport`), :func:`check_registry` (both),
* :func:`write_registry` (tables -> CSV folder or .xlsx),
* :class:`Store` (SQLite file by default, PostgreSQL by URL; Alembic-migrated; provenance).

``Store`` is imported on first use so that reading and validating do not load SQLAlchemy.
"""
from __future__ import annotations

from .fields import TABLE_ORDER, TABLES
from .io import read_registry, write_registry
from .report import ValidationReport
from .rules import RULES
from .validate import check_registry, validate

__all__ = ["TABLES", "TABLE_ORDER", "RULES", "read_registry", "write_registry", "validate", "check_registry",
           "ValidationReport", "Store", "ImportResult"]


def __getattr__(name: str):
    if name in ("Store", "ImportResult"):
        from . import store
        return getattr(store, name)
    raise AttributeError(f"module 'oligomet.registry' has no attribute {name!r}")
