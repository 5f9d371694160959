"""Run a study: protocol → registry → endpoints → cohort → groups → analyses → report.

>>> from oligomet.study import run_study
>>> study = run_study("examples/sarcoma_lung_metastasectomy.toml", out="report/")   # doctest: +SKIP

Everything is deterministic for a given protocol and data: the estimators are exact, the only
random step (matching with ``order = "random"``) uses the protocol's ``seed``, and no time stamp
enters ``results.json``, so running twice gives identical numbers (and identical files).
"""
from __future__ import annotations

import platform
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..report._atomic_folder import check_output_folder
from ..report.document import StudyResults, clean
from ..report.sections.checks import build_checks
from ..report.sections.cohort import build_cohort
from . import catalogue
from . import cohort as C
from ._ahead import Ahead, load_kernels
from .analyses import describe
from .analyses._context import Ctx
from .catalogue import requested, run_analysis
from .checks import group_sizes
from .preflight import checked_cohort, prepare_covariates
from .protocol import Protocol
from .protocol_source import load

if TYPE_CHECKING:   # the report's figure workers; matplotlib is imported only for a report
    from ..report.figures._processes import FigureDrawing

_PACKAGES = ("numpy", "scipy", "pandas", "matplotlib")


@dataclass
class Study:
    """A finished run: the protocol, the analysis cohort (one row per patient, with
    ``exposure``), the STROBE flow and the results (numbers, tables, figures, text)."""

    protocol: Protocol
    cohort: pd.DataFrame
    flow: pd.DataFrame
    results: StudyResults
    report_dir: Path | None = None


def versions() -> dict[str, str]:
    return dict(_versions())


@cache   # installed packages do not change under a running process; each lookup reads package metadata
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    import oligomet

    out = {"oligomet": oligomet.__version__, "python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:  # pragma: no cover
            out[p] = "unknown"
    return out


_prepare_covariates = prepare_covariates   # the name the federated sites import


def _progress(enabled: bool):
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), transient=True)


def run_study(protocol: str | Path | Protocol, out: str | Path | None = None, *, progress: bool = False,
              tables: dict[str, pd.DataFrame] | None = None, source: dict | None = None,
              data_sha256: str | None = None) -> Study:
    """Run every analysis of ``protocol``; write the report to ``out`` when given.

    ``tables`` (a registry in memory) overrides the protocol's data source, e.g. to reuse one
    synthetic registry for several protocols; ``source`` then describes it for the provenance
    record (e.g. ``{"data_source": "synthetic", "synthetic": {"n_patients": ..., "seed": ...}}``),
    otherwise it is recorded as ``"in-memory registry"``.

    ``data_sha256``: ``data_hash(tables)``, for a caller running several studies on one registry that it
    read once (the demo, the benchmark): the hash costs ~0.75 s at 100,000 patients, per study. It is the
    caller's word that ``tables`` are the very frames hashed, unchanged since; the callers in this package
    hash right after reading and pass the frames on untouched, and ``run_study`` never modifies ``tables``
    (tested). Computed here when not given; refused without ``tables``.
    """
    given = tables is not None
    if data_sha256 is not None and not given:
        raise ValueError("data_sha256 describes the given tables: pass it only with tables=")
    proto = protocol if isinstance(protocol, Protocol) else load(protocol)
    if out is not None:
        check_output_folder(out)   # refuse an --out the report may not replace before the analyses, not after
    # figures are drawn in worker processes as the sections are built; the workers are forked here,
    # before the progress bar starts its thread (see report.figures._processes)
    with _figure_drawing(out, requested(proto.analyses)) as drawing:
        res = StudyResults(title=proto.title, name=proto.name)
        steps = requested(proto.analyses)
        with _progress(progress) as bar:
            task = bar.add_task(proto.name, total=len(steps) + 3) if bar is not None else None

            def tick(what: str):
                if drawing is not None:
                    drawing.draw(res.figures)
                if bar is not None:
                    bar.update(task, advance=1, description=f"{proto.name}: {what}")

            if tables is None:
                tables = C.load_registry(proto)
            tick("registry loaded")
            dhash = C.data_hash(tables) if data_sha256 is None else data_sha256
            # every data check (validate-protocol runs the same), before the first analysis
            cohort, flow = checked_cohort(proto, tables, tick)
            build_cohort(res, flow, len(cohort), _group_counts(proto, cohort), proto.description,
                         proto.cohort.drop_zero_steps)
            if drawing is not None:
                drawing.draw(res.figures)   # the flow diagram
            analyse(proto, cohort, res, tick, workers=drawing)
        if proto.data.data_lock is not None:
            res.methods.append(f"Data were locked on {proto.data.data_lock}: records after that date were ignored "
                               f"and follow-up was censored at it.")
        v = versions()
        res.methods.append(
            f"Analyses were run with oligomet {v['oligomet']} (Python {v['python']}, NumPy {v['numpy']}, SciPy "
            f"{v['scipy']}, pandas {v['pandas']}); its estimators reproduce R's survival 3.5-3, MatchIt 4.7.2 and "
            f"cmprsk 2.2-11. Two-sided p < 0.05 was considered significant.")
        src = proto.data
        if given:  # the protocol's [data] was not used: record what was
            described = {"data_source": "in-memory registry", "synthetic": None, **(source or {})}
        else:
            described = {"data_source": ("synthetic" if src.synthetic else "folder" if src.folder else
                                         "workbook" if src.workbook else "database"),
                         "synthetic": src.synthetic.model_dump() if src.synthetic else None}
        res.provenance = clean({
            # the file name only: results.json must not change with the folder the study was run from
            "protocol": Path(proto.source_path).name if proto.source_path else None,
            "protocol_sha256": proto.hash, "data_sha256": dhash,
            **described, "n_patients_registry": int(len(tables["patients"])),
            # the generator labels every synthetic patient "SYN-...": the report says so whatever the source
            "synthetic_patients": bool(len(tables["patients"]) and
                                       tables["patients"]["patient_id"].astype(str).str.startswith("SYN-").all()),
            "seed": proto.seed, "time_unit": proto.time_unit, "versions": v,
        })
        res.numbers["cohort"] = clean({"flow": flow, "n": len(cohort), "groups": _group_counts(proto, cohort) or {}})
        study = Study(protocol=proto, cohort=cohort, flow=flow, results=res)
        if out is not None:
            from ..report.html import write_report

            study.report_dir = write_report(res, out, drawing=drawing)
    return study


def _figure_drawing(out, entries):
    if out is None:
        return nullcontext()
    from ..report.figures._processes import forks_workers
    from ..report.html import figure_drawing   # matplotlib and the report's templates: only for a report

    if forks_workers():   # the workers inherit the kernels the analyses computed ahead need
        load_kernels(entries)
    return figure_drawing(out)


def _group_counts(proto: Protocol, cohort: pd.DataFrame) -> dict[str, int] | None:
    """Patients per exposure group, in protocol order; None for a single-arm study."""
    if proto.exposure is None:
        return None
    return {str(k): int(v) for k, v in cohort[C.GROUP].value_counts(sort=False).items()}


def analyse(proto: Protocol, cohort: pd.DataFrame, res: StudyResults, tick=lambda what: None, *,
            workers: FigureDrawing | None = None) -> None:
    """Run the protocol's analyses (and checks) on a built cohort (``exposure`` assigned), into ``res``.

    ``workers``: the report's figure workers; the analyses declared ``ahead`` are computed there meanwhile
    (see :mod:`._ahead`). The sections are built here in catalogue order either way."""
    build_checks(res, group_sizes(proto, _group_counts(proto, cohort) or {"study cohort": len(cohort)}))
    ctx = Ctx(proto=proto, cohort=cohort)
    entries = requested(proto.analyses)
    ahead = Ahead(workers)
    try:
        for i, entry in enumerate(entries):
            if i == 0 or entries[i - 1].adjusts:   # what the analyses from here read is complete
                ahead.start(ctx, entries[i:])
            run_analysis(entry, ctx, res, ahead.result(entry, ctx))
            tick(entry.label)
    finally:
        ahead.cancel()
    if proto.analyses.table_one is not None and proto.analyses.propensity is not None and \
            proto.exposure is not None:
        _table_one_after(ctx, res)


def _table_one_after(ctx: Ctx, res: StudyResults) -> None:
    """Table 1 in the matched (or weighted) cohort, next to the one before."""
    if ctx.adjusted is None:
        return
    label = "matching" if ctx.proto.analyses.propensity.method == "match" else "weighting"
    run_analysis(replace(catalogue.entry("table_one"), compute=partial(describe.compute_table_one, matched=ctx.adjusted,
                                                            label=label)), ctx, res)
