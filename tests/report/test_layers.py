"""The report layer sits below the study layer: nothing in ``oligomet.report`` imports ``oligomet.study``."""
from __future__ import annotations

import ast
from pathlib import Path

import oligomet.report

REPORT = Path(oligomet.report.__file__).resolve().parent


def _imported_modules(path: Path, source: str | None = None) -> list[str]:
    """Absolute names of the modules a file imports (relative imports resolved against its package)."""
    package = ["oligomet", "report", *path.relative_to(REPORT).parent.parts]
    out = []
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]  # "from .. import study"
    return out


def test_the_scan_sees_every_way_back_up():
    # the scan itself: each spelling of an import of the study layer, from two package depths
    for where, source in [("html.py", "from ..study.results import FigureItem"),
                          ("html.py", "from .. import study"),
                          ("figures/km.py", "from ...study import run_study"),
                          ("figures/km.py", "def f():\n    import oligomet.study.cohort")]:
        assert any(m.startswith("oligomet.study") for m in _imported_modules(REPORT / where, source)), source
    assert not any(m.startswith("oligomet.study") for m in _imported_modules(REPORT / "html.py", "from . import x"))


def test_report_imports_nothing_from_study():
    offenders = {str(p.relative_to(REPORT)): m for p in REPORT.rglob("*.py") for m in _imported_modules(p)
                 if m == "oligomet.study" or m.startswith("oligomet.study.")}
    assert offenders == {}
