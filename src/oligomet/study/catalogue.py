"""The catalogue of analyses: one declared entry per analysis, in report order, as MatchIt dispatches
its methods by name. The runner and the protocol checks are driven by it; neither names an analysis.

An entry names the protocol field holding its options (``[analyses.<key>]``, a model deriving from
:class:`~oligomet.study.protocol.AnalysisOptions`, which declares the endpoint kind, exposure and
covariates the generic protocol checks need), its compute function (``Ctx -> Computed``: tidy frames
and numbers, nothing drawn or formatted) and its section builder in :mod:`oligomet.report.sections`
(``(StudyResults, Computed) -> None``). ``Computed.numbers`` goes to ``results.json`` under ``key``.
``checks`` (optional) judges the result against the protocol's ``[checks]`` thresholds (:mod:`.checks`).
``preflight`` (optional) raises the protocol errors the analysis would meet in the data (an unknown column, a
landmark after the last event, an empty subgroup cell): ``run`` calls every one before the first analysis, and
``validate-protocol`` calls the same (:mod:`.preflight`), so both reject a protocol with the same message.
``ahead``: its compute only reads ``ctx``, so a report's worker processes may run it while this process runs
the analyses before it (:mod:`._ahead`); ``adjusts``: its compute sets ``ctx.adjusted``, which the analyses
after it read, so theirs start once it has run. ``fits_cox``: it fits Cox models, whose compiled kernels are
then loaded before the workers are forked (:func:`._ahead.load_kernels`).

Adding an analysis: see "Adding an analysis" in ``docs/architecture.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..report.document import Check, StudyResults
from ..report.sections.checks import build_checks
from ..report.sections import board_quality as board_quality_sections
from ..report.sections import competing as competing_sections
from ..report.sections import complications as complications_sections
from ..report.sections import cox as cox_sections
from ..report.sections import describe as describe_sections
from ..report.sections import imputation as imputation_sections
from ..report.sections import landmark as landmark_sections
from ..report.sections import paired as paired_sections
from ..report.sections import propensity as propensity_sections
from ..report.sections import rmst as rmst_sections
from ..report.sections import subgroups as subgroups_sections
from ..report.sections import survival as survival_sections
from ..report.sections import timevarying as timevarying_sections
from .analyses import (board_quality, competing, complications, cox, describe, landmark, paired, propensity, rmst,
                       subgroups, survival, timevarying)
from . import checks
from .analyses._context import Computed, Ctx


@dataclass(frozen=True)
class Analysis:
    key: str                                            # field of Analyses; key of results.json's numbers
    label: str                                          # progress text
    compute: Callable[[Ctx], Computed]
    build: Callable[[StudyResults, Computed], None]
    checks: Callable[[Ctx, Computed], list[Check]] | None = None   # validity checks of its result
    preflight: Callable[[Ctx], None] | None = None                 # its data checks, before any analysis
    ahead: bool = False                                 # may be computed in a worker, ahead of its turn
    adjusts: bool = False                               # sets ctx.adjusted (the propensity step)
    fits_cox: bool = False                              # fits Cox models (compiled kernels)


CATALOGUE: tuple[Analysis, ...] = (
    Analysis("followup", "median follow-up", survival.compute_followup, survival_sections.build_followup),
    Analysis("table_one", "Table 1", describe.compute_table_one, describe_sections.build_table_one, ahead=True),
    Analysis("km", "Kaplan–Meier", survival.compute_km, survival_sections.build_km),
    Analysis("logrank", "log-rank", survival.compute_logrank, survival_sections.build_logrank),
    Analysis("complications", "complications", complications.compute_complications,
             complications_sections.build_complications, preflight=complications.check_complications),
    Analysis("cox", "Cox models", cox.compute_cox, imputation_sections.with_imputation(cox_sections.build_cox),
             checks.cox_checks, ahead=True, fits_cox=True),
    Analysis("propensity", "propensity score", propensity.compute_propensity,
             propensity_sections.build_propensity, checks.propensity_checks, adjusts=True),
    Analysis("rmst", "restricted mean survival time", rmst.compute_rmst, rmst_sections.build_rmst,
             preflight=rmst.check_rmst),
    Analysis("landmark", "landmark analysis", landmark.compute_landmark, landmark_sections.build_landmark,
             preflight=landmark.check_landmark, ahead=True, fits_cox=True),
    Analysis("time_varying", "time-varying exposure", timevarying.compute_time_varying,
             timevarying_sections.build_time_varying, preflight=timevarying.check_time_varying, ahead=True,
             fits_cox=True),
    Analysis("subgroups", "subgroups", subgroups.compute_subgroups, subgroups_sections.build_subgroups,
             preflight=subgroups.check_cells, ahead=True, fits_cox=True),
    Analysis("cif", "cumulative incidence", competing.compute_cif, competing_sections.build_cif),
    Analysis("paired", "paired comparisons", paired.compute_paired, paired_sections.build_paired,
             preflight=paired.check_paired),
    Analysis("board_quality", "board decisions", board_quality.compute_board_quality,
             board_quality_sections.build_board_quality, ahead=True),
)


def entry(key: str) -> Analysis:
    return next(a for a in CATALOGUE if a.key == key)


def requested(analyses) -> list[Analysis]:
    """The catalogue entries the protocol's ``[analyses]`` asks for (a set section or a non-empty list)."""
    return [a for a in CATALOGUE if getattr(analyses, a.key) not in (None, [])]


def run_analysis(entry: Analysis, ctx: Ctx, doc: StudyResults, result: Computed | None = None) -> None:
    """Compute one analysis (unless its ``result`` is given), file its numbers and warnings in ``doc``, and
    build its report sections."""
    if result is None:
        result = entry.compute(ctx)
    doc.numbers.setdefault(entry.key, {}).update(result.numbers)
    doc.warnings += result.warnings
    entry.build(doc, result)
    if entry.checks is not None:
        build_checks(doc, entry.checks(ctx, result))
