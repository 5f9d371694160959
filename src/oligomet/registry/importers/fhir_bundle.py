"""HL7 FHIR R4 Bundles as parsed entries: where each is (file, index, fullUrl) and references between them.

Every entry's resource is parsed with ``fhir.resources`` (its R4B models read R4 content), so a value
that breaks FHIR's own rules is an ``fhir_invalid`` error naming the entry and element; such a
resource is left out, and its references are remembered so that what points at it is not reported
again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..report import ProblemLog


def looks_like_fhir(path: Path) -> bool:
    """A ``.json`` file, or a folder holding ``.json`` files and no ``.csv`` (a folder of bundles)."""
    if path.is_dir():
        files = list(path.iterdir())
        return any(p.suffix.lower() == ".json" for p in files) and not any(p.suffix.lower() == ".csv" for p in files)
    return path.suffix.lower() == ".json"


def bundle_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".json") if path.is_dir() \
        else [path]


@dataclass
class Entry:
    """One bundle entry: where it is (for every message) and its parsed resource."""

    file: str
    index: int
    full_url: str | None
    type: str
    resource: Any

    @property
    def id(self) -> str | None:
        return getattr(self.resource, "id", None)

    def at(self, path: str = "") -> str:
        ref = self.full_url or f"{self.type}/{self.id}"
        return f"{self.file} entry[{self.index}] ({ref}){' ' + path if path else ''}"

    def profiles(self) -> list[str]:
        meta = getattr(self.resource, "meta", None)
        return [str(p) for p in (getattr(meta, "profile", None) or [])]

    def has_profile(self, *names: str) -> bool:
        return any(p.rstrip("/").rsplit("/", 1)[-1] in names for p in self.profiles())


def _entries(path: Path, log: ProblemLog, invalid: set[str]) -> list[Entry]:
    """The bundle's entries with parsed resources; the references of resources that failed to parse go
    into ``invalid`` (what points at them is not reported again: their own error says it)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        log.error("patients", "file_unreadable", f"cannot read {path.name}: {exc}")
        return []
    except json.JSONDecodeError as exc:
        log.error("patients", "file_unreadable", f"{path.name} is not JSON: {exc.msg} at line {exc.lineno} "
                                                 f"column {exc.colno}; fix the file (or export the bundle again)")
        return []
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        log.error("patients", "file_unreadable", f"{path.name} is a {kind!r}, not a FHIR Bundle; export the "
                                                 "patients' data as a Bundle (type collection or transaction)")
        return []
    out = []
    for i, item in enumerate(data.get("entry") or []):
        res = item.get("resource") if isinstance(item, dict) else None
        url = item.get("fullUrl") if isinstance(item, dict) else None
        rtype = res.get("resourceType") if isinstance(res, dict) else None
        where = f"{path.name} entry[{i}]{f' ({url})' if url else ''}"
        if not rtype:
            log.error("patients", "fhir_invalid", f"{where} has no resource with a resourceType; remove the entry "
                                                  "or give its resource")
            continue
        try:
            model = get_fhir_model_class(rtype)
        except (KeyError, ValueError):
            log.warning("patients", "fhir_not_read", f"{where}: {rtype!r} is not a FHIR R4 resource type; ignored")
            continue
        try:
            resource = model.model_validate(res)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(x) for x in err["loc"] if x != "__root__")
                log.error(_table_of(rtype), "fhir_invalid",
                          f"{where} {rtype}.{loc}: {err['msg']} (value {_show(err.get('input'))}); "
                          "the resource was not read: correct the value to FHIR R4", field=loc or None)
            invalid.update(x for x in (url, f"{rtype}/{res.get('id')}") if x)
            continue
        out.append(Entry(path.name, i, url, rtype, resource))
    return out


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _table_of(rtype: str) -> str:
    return {"Patient": "patients", "Condition": "lesions", "Procedure": "treatments",
            "Observation": "labs"}.get(rtype, "patients")


class _Index:
    """Resolve references (``Patient/p1``, ``urn:uuid:...``, an absolute URL) to entries."""

    def __init__(self, entries: list[Entry], invalid: set[str] = frozenset()) -> None:
        self.entries = entries
        self.invalid = invalid
        self.by_ref: dict[str, Entry] = {}
        for e in entries:
            if e.full_url:
                self.by_ref[e.full_url] = e
            if e.id:
                self.by_ref.setdefault(f"{e.type}/{e.id}", e)

    def resolve(self, ref) -> Entry | None:
        text = getattr(ref, "reference", None) if ref is not None else None
        if not text:
            return None
        hit = self.by_ref.get(text)
        if hit is None and "/" in text:          # an absolute URL ending in Type/id
            hit = self.by_ref.get("/".join(text.rstrip("/").split("/")[-2:]))
        return hit

    def of_type(self, rtype: str) -> list[Entry]:
        return [e for e in self.entries if e.type == rtype]

