"""Provenance of an import: what exactly was read, identified by SHA-256.

* :func:`file_hashes`: SHA-256 and size of every source file (or, for an in-memory registry, of
  each table written as CSV in the interchange format);
* :func:`source_digest`: one SHA-256 for the whole source and the options that change what is
  accepted or stored (``date_format``, ``data_lock``, and a keyed tag of the identifier key), so
  that "same digest" means "same import".

The store records both (tables ``imports`` and ``import_files``) and compares digests to make a
re-import of an unchanged source a no-op.
"""
from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import Path

import pandas as pd

from .fields import TABLE_ORDER
from .io import _export_frame


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hashes(paths: list[Path]) -> dict[str, tuple[str, int]]:
    """``{file name: (sha256 hex, bytes)}``."""
    out = {}
    for p in paths:
        data = p.read_bytes()
        out[p.name] = (sha256(data), len(data))
    return out


def table_hashes(tables: dict[str, pd.DataFrame]) -> dict[str, tuple[str, int]]:
    """``{"<memory>/<table>": (sha256 hex, bytes)}`` of each table in its interchange CSV form."""
    out = {}
    for name in TABLE_ORDER:
        buf = io.StringIO()
        _export_frame(tables[name], name).to_csv(buf, index=False)
        data = buf.getvalue().encode("utf-8")
        out[f"<memory>/{name}"] = (sha256(data), len(data))
    return out


def key_tag(key: bytes | None) -> str:
    """A keyed tag of the identifier key, not its hash: the key never leaves memory recoverably."""
    return "none" if key is None else hmac.new(key, b"oligomet-import", hashlib.sha256).hexdigest()[:16]


def source_digest(hashes: dict[str, tuple[str, int]], *, date_format=None, data_lock=None, key=None) -> str:
    digest = hashlib.sha256()
    for name, (h, _) in sorted(hashes.items()):
        digest.update(f"{name}\x1f{h}\n".encode())
    digest.update(f"date_format={date_format}\x1fkey={key_tag(key)}\x1flock={data_lock}".encode())
    return digest.hexdigest()
