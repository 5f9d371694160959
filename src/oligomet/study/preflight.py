"""Everything ``run`` checks before its first analysis, in one place, so that ``validate-protocol`` runs the
very same checks and a protocol it calls valid cannot fail at the start of ``run``.

In order: the protocol file (fields, values, names between sections: :mod:`.protocol`); the data source (read,
and validated for a folder or workbook); the analysis frame (endpoints and the ``[[derive]]`` expressions);
the declared covariates (columns, reference levels); the cohort criteria (columns, codes of coded columns, an
empty cohort); the exposure groups (empty, overlapping); the endpoints; then each requested analysis' own
data checks (``preflight`` in :mod:`.catalogue`: columns, landmarks, RMST ``tau``, empty subgroup cells).
Each is a :class:`~oligomet.study.cohort.StudyError` naming the protocol line. The analyses' checks are
collected and reported together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._pandas_compat import is_text
from ..survival.design import _fmt, _level_key
from . import cohort as C
from .analyses._context import Ctx
from .catalogue import requested
from .protocol import Protocol, _analysis_options


def prepare_covariates(frame: pd.DataFrame, proto: Protocol) -> pd.DataFrame:
    """Declared covariates coded for the models: binary as 1/0, categorical as plain objects; an unknown
    column is a protocol error (all of them at once)."""
    missing = [(i, cov.column) for i, cov in enumerate(proto.covariates) if cov.column not in frame.columns]
    if missing:
        raise C.StudyError(proto.source_path, [
            (f"covariates.{i}.column", proto.line_of("covariates", i, "column"),
             f"unknown column {col!r}; available columns: {', '.join(frame.columns)}") for i, col in missing])
    for cov in proto.covariates:
        if cov.type == "binary":
            s = frame[cov.column]
            if s.dtype == np.float64:   # as it would come back (NaN -> NA -> NaN): left as it is
                continue
            if is_text(s):  # object, or pandas 3's str dtype
                s = s.map({True: 1.0, False: 0.0, "yes": 1.0, "no": 0.0})
            frame[cov.column] = pd.to_numeric(s.astype("Float64"), errors="coerce").astype(float)
        elif cov.type == "categorical":
            s = frame[cov.column]
            if s.dtype == object and pd.api.types.infer_dtype(s, skipna=False) == "string":
                continue   # every value a str: nothing to make an object or None
            frame[cov.column] = s.astype(object).where(s.notna(), None)
    return frame


def _modelled(proto: Protocol) -> set[str]:
    """Covariates some model of the protocol estimates (every analysis but Table 1 fits them)."""
    return {name for key, opts, _ in _analysis_options(proto.analyses) if key != "table_one"
            for f in opts.covariate_fields for name in getattr(opts, f)}


def _is_level(level, name) -> bool:
    return _level_key(level) == _level_key(name) or _fmt(level) == str(name)


def covariate_problems(proto: Protocol, cohort: pd.DataFrame) -> list[tuple[str, int | None, str]]:
    """A categorical covariate's ``reference`` must be one of its levels in the cohort (as the Cox design
    matches levels: 1, 1.0 and "1" are one level), and a modelled one needs two levels."""
    out, modelled = [], _modelled(proto)
    for i, cov in enumerate(proto.covariates):
        if cov.type != "categorical" or cov.column not in cohort.columns:
            continue
        levels = list(dict.fromkeys(cohort[cov.column].dropna()))
        if len(levels) < 2 and cov.column in modelled:
            only = f"a single level ({_fmt(levels[0])})" if levels else "no known value"
            out.append((f"covariates.{i}.column", proto.line_of("covariates", i, "column"),
                        f"categorical covariate {cov.column!r} has {only} in the cohort of {len(cohort)}; a model "
                        f"cannot estimate it (drop it from the analyses, or check the cohort criteria)"))
        if cov.reference is not None and not any(_is_level(lv, cov.reference) for lv in levels):
            shown = ", ".join(sorted(map(_fmt, levels))) or "none (missing for every patient)"
            out.append((f"covariates.{i}.reference", proto.line_of("covariates", i, "reference"),
                        f"reference level {cov.reference!r} of {cov.column!r} is not among its levels in the "
                        f"cohort: {shown}"))
    return out


def check_analyses(proto: Protocol, cohort: pd.DataFrame) -> None:
    """The categorical covariates' levels and every requested analysis' data checks, all problems in one
    StudyError."""
    problems = covariate_problems(proto, cohort)
    ctx = Ctx(proto=proto, cohort=cohort)
    for entry in requested(proto.analyses):
        if entry.preflight is None:
            continue
        try:
            entry.preflight(ctx)
        except C.StudyError as exc:
            problems += exc.problems
    if problems:
        raise C.StudyError(proto.source_path, problems)


def checked_cohort(proto: Protocol, tables: dict[str, pd.DataFrame],
                 tick=lambda what: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registry tables → analysis frame → cohort with its STROBE flow and exposure groups, checked for every
    analysis the protocol asks for. Returns (cohort, flow)."""
    candidates, rows, done = C.prefilter(tables, proto)
    frame = C.analysis_frame(candidates, proto)
    frame = prepare_covariates(frame, proto)
    tick("endpoints derived")
    # the criteria and groups keep positions; the frame is cut to the cohort once
    pos, flow = C.cohort_rows(frame, proto, rows=rows, skip=done)
    cohort, flow = C.assign_groups_at(frame, pos, flow, proto)
    C.check_endpoints(cohort, proto)
    check_analyses(proto, cohort)
    tick("cohort built")
    return cohort, flow


@dataclass(frozen=True)
class DataCheck:
    """What ``validate-protocol`` found in the data: registry and cohort sizes, patients per group."""

    n_registry: int
    n_cohort: int
    groups: dict[str, int] | None


def check_against_data(proto: Protocol, tables: dict[str, pd.DataFrame] | None = None) -> DataCheck:
    """Every check ``run`` makes before its first analysis, on the protocol's data source (or ``tables``)."""
    tables = C.load_registry(proto) if tables is None else tables
    cohort, _ = checked_cohort(proto, tables)
    groups = None if proto.exposure is None else \
        {str(k): int(v) for k, v in cohort[C.GROUP].value_counts(sort=False).items()}
    return DataCheck(len(tables["patients"]), len(cohort), groups)
