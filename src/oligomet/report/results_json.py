"""``results.json``: every number of the report, plus provenance, as plain sorted JSON (diffable)."""
from __future__ import annotations

import json
from pathlib import Path

from .document import clean


def results_document(results) -> dict:
    return {"title": results.title, "name": results.name, "provenance": results.provenance,
            "numbers": results.numbers, "methods": " ".join(results.methods),
            "results": " ".join(results.results_text), "warnings": results.warnings,
            "checks": [{"name": c.name, "title": c.title, "passed": c.passed, "values": clean(c.values)}
                       for c in results.checks]}


def write_results_json(results, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: NaN is not JSON; the study layer turns it into null before this point
    path.write_text(json.dumps(results_document(results), indent=2, sort_keys=True, allow_nan=False,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return path
