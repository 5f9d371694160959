"""Protocol → analysis frame → cohort (with the STROBE flow) → exposure groups.

* :func:`load_registry` reads the data source and returns the registry tables and a data hash.
* :func:`analysis_frame` runs ``derive_endpoints`` with the protocol's origin and adds the
  protocol's derived columns.
* :func:`apply_cohort` applies the inclusion then exclusion criteria in order, counting the
  patients excluded at each step. A missing value never satisfies an inclusion criterion (the
  patient is excluded, because eligibility is unknown) and never triggers an exclusion.
* :func:`assign_groups` labels each patient with the first-and-only exposure group whose
  conditions all hold; patients in no group leave the cohort (a flow step of their own).

Errors that need the data (unknown column, a code that does not exist, an empty cohort, a group
with no patients, an endpoint the registry cannot give) are :class:`StudyError` and point to the
protocol line.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..expressions import ExpressionError, evaluate, parse_expression
from ..registry import fields as F
from .protocol import Condition, Protocol
from .protocol_source import ProtocolError

#: Analysis columns whose values come from a registry code list: conditions are checked against it.
CODED_COLUMNS = {
    "primary_site": F.PRIMARY_SITE, "sex": F.SEX, "index_modality": F.MODALITY,
    "first_local_modality": F.MODALITY, "index_intent": F.INTENT, "index_approach": F.APPROACH,
    "index_margin": F.MARGIN, "ras": F.MUTATION, "braf": F.MUTATION, "msi": F.MSI,
    "worst_clavien_dindo": F.CLAVIEN_DINDO, "organ": F.ORGAN, "lesion_modality": F.MODALITY,
}

# The group column added to the cohort frame (Categorical, levels in protocol order). Regression terms name it
# too (``exposure[Delayed]``), so the two names are one column.
GROUP = "exposure"
EXPOSURE_TERM = GROUP


class StudyError(ProtocolError):
    """A protocol that is valid on its own but does not fit the data."""


def _err(proto: Protocol, loc: tuple, msg: str) -> StudyError:
    return StudyError(proto.source_path, [(".".join(map(str, loc)), proto.line_of(*loc), msg)])


# --- data source ---------------------------------------------------------------------------------

def _resolve(base: Path | None, p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() or base is None else base / path


def load_registry(proto: Protocol) -> dict[str, pd.DataFrame]:
    """The registry tables named by ``[data]`` (synthetic, folder, workbook or database URL)."""
    d = proto.data
    base = Path(proto.source_path).parent if proto.source_path else None
    if d.synthetic is not None:
        from ..datasets import synthetic_registry

        return synthetic_registry(d.synthetic.n_patients, n_sites=d.synthetic.n_sites, seed=d.synthetic.seed)
    from .. import registry

    if d.folder is not None or d.workbook is not None:
        key = "folder" if d.folder else "workbook"
        path = _resolve(base, d.folder or d.workbook)
        if not path.exists():
            raise _err(proto, ("data", key), f"no such file or folder: {path}")
        tables, report = registry.read_registry(path, date_format=d.date_format)
        # no data_lock here: for a study the lock is a censoring date (derive_endpoints ignores later records),
        # not a rule that fails a registry still growing after it
        report = report + registry.validate(tables)
        if not report.ok:
            errs = report.errors
            shown = "; ".join(f"{r.table} row {r.row}: {r.field}: {r.message}" for r in errs.head(5).itertuples())
            raise _err(proto, ("data", key), f"the registry at {path} has {len(errs)} validation error(s) "
                                             f"(run `oligomet registry validate {path}` for all): {shown}")
        return tables
    with registry.Store.open_read_only(d.url) as store:  # validated imports; reading never migrates
        return store.load()


def data_hash(tables: dict[str, pd.DataFrame]) -> str:
    """SHA-256 over every table's content, in the declared table order.

    Built from pandas' per-row content hashes (``hash_pandas_object``, fixed key, index ignored)
    plus the column names and dtypes: equal data give equal hashes, and it is fast on 10^5 rows.
    """
    from ..registry._processes import processes_for_rows, run_tasks

    names = [name for name in F.TABLE_ORDER if tables.get(name) is not None]
    cells = {name: tables[name].size for name in names}
    # The tables' bytes are found in worker processes too, from ~50,000 rows (the forked workers inherit
    # the tables; only the bytes come back), largest first; hashed here in table order: the same hash.
    done = run_tasks(_table_bytes, {name: (name, tables[name]) for name in sorted(names, key=lambda n: -cells[n])},
                     processes=processes_for_rows(sum(len(tables[n]) for n in names)))
    h = hashlib.sha256()
    for name in names:
        h.update(done[name])
    return h.hexdigest()


def _table_bytes(name: str, frame: pd.DataFrame) -> bytes:
    """What ``data_hash`` hashes of one table: its name, columns, dtypes and length, and its row hashes."""
    head = f"{name}:{list(frame.columns)}:{[str(t) for t in frame.dtypes]}:{len(frame)}".encode()
    return head + pd.util.hash_pandas_object(_text_as_categories(frame), index=False).to_numpy().tobytes()


def _text_as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each all-text object column as a Categorical over object categories: the same hashes.

    ``hash_pandas_object`` hashes an object column as a Categorical of its distinct values anyway,
    but builds the categories as an Index, which pandas 3 turns into Arrow strings and back (~0.4 s at
    10^5 patients). Only columns whose distinct values are all ``str`` are given here (an Index of
    other objects, e.g. ints, would be inferred as numbers and hashed as such).
    """
    out = frame
    for i, col in enumerate(frame.to_dict("series").values() if frame.columns.is_unique else ()):
        if col.dtype == object:
            codes, cats = pd.factorize(col.to_numpy(), sort=False)
            if len(cats) and pd.api.types.infer_dtype(cats, skipna=False) == "string":
                out = frame.copy(deep=False) if out is frame else out
                categories = pd.CategoricalDtype(pd.Index(cats, dtype=object))
                out.isetitem(i, pd.Categorical.from_codes(codes, dtype=categories))
    return out


# --- analysis frame ------------------------------------------------------------------------------

def analysis_frame(tables: dict[str, pd.DataFrame], proto: Protocol) -> pd.DataFrame:
    """``derive_endpoints`` under the protocol's origin and unit, plus the ``[[derive]]`` columns."""
    from ..endpoints.derive import derive_endpoints

    o = proto.origin
    try:
        frame = derive_endpoints(tables, origin=o.type, index_modalities=o.index_modalities,
                                 index_intents=o.index_intents, unit=proto.time_unit,
                                 data_lock=proto.data.data_lock)
    except ValueError as exc:
        raise _err(proto, ("origin",), f"endpoints cannot be derived: {exc}") from None
    for i, d in enumerate(proto.derive):
        value = _evaluate(frame, d.expr, proto, ("derive", i, "expr"))
        if not isinstance(value, pd.Series):
            raise _err(proto, ("derive", i, "expr"), f"{d.expr!r} must give one value per row")
        if value.dtype == bool or isinstance(value.dtype, pd.BooleanDtype):
            # true/false as 1/0 (NaN when unknown): usable as event, binary covariate or subgroup
            value = value.astype("Float64").astype(float)
        frame[d.name] = value
    return frame


def _evaluate(frame: pd.DataFrame, text: str, proto: Protocol, loc: tuple):
    """An expression of the protocol on every row (``oligomet.expressions``, never ``DataFrame.eval``).
    A comparison on a missing input stays missing (pandas gives False), so that complete-case rules
    and the inclusion/exclusion rule see it."""
    try:
        return evaluate(parse_expression(text), frame, propagate_missing=True)
    except ExpressionError as exc:
        raise _err(proto, loc, exc.problem) from None


# --- conditions ----------------------------------------------------------------------------------

def condition_mask(frame: pd.DataFrame, cond: Condition, proto: Protocol, loc: tuple) -> pd.Series:
    """Boolean Series (with NA where the column is missing) for one condition."""
    if cond.expr is not None:
        value = _evaluate(frame, cond.expr, proto, loc + ("expr",))
        return pd.Series(value, index=frame.index).astype("boolean")
    col = cond.column
    if col not in frame.columns:
        raise _err(proto, loc + ("column",), f"unknown column {col!r}; available columns: {', '.join(frame.columns)}")
    s = frame[col]
    op, v = cond.operator, cond.value
    if op == "missing":
        return pd.Series(s.isna().to_numpy() == bool(v), index=frame.index, dtype="boolean")
    if col in CODED_COLUMNS and op in ("equals", "not_equals", "in", "not_in"):
        allowed = CODED_COLUMNS[col]
        values = v if isinstance(v, list) else [v]
        bad = [x for x in values if x not in allowed]
        if bad:
            raise _err(proto, loc + ("in" if op == "in" else op,),
                       f"unknown value {', '.join(map(repr, bad))} for {col!r}; allowed: {', '.join(allowed)}")
    if s.dtype == object and op in ("equals", "not_equals", "in", "not_in"):
        return _text_mask(s, op, v, frame.index)
    if pd.api.types.is_datetime64_any_dtype(s) and op not in ("in", "not_in"):
        v = pd.Timestamp(v)
    na = s.isna().to_numpy()
    if op == "equals":
        m = s == v
    elif op == "not_equals":
        m = s != v
    elif op == "in":
        m = s.isin(v)
    elif op == "not_in":
        m = ~s.isin(v)
    else:
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)):
            raise _err(proto, loc + (op,), f"{op!r} needs a numeric or date column; {col!r} is {s.dtype}")
        try:
            m = {"min": s >= v, "max": s <= v, "lt": s < v, "gt": s > v}[op]
        except TypeError as exc:
            raise _err(proto, loc + (op,), f"cannot compare {col!r} with {v!r}: {exc}") from None
    # nullable columns give NA for missing inputs: make it False first, then mark every row whose
    # input is missing as NA, whatever the column's dtype
    if m.dtype == bool or isinstance(m.dtype, pd.BooleanDtype):
        na = na.astype(bool)
        values = m.to_numpy(dtype=bool, na_value=False) & ~na
        return pd.Series(pd.arrays.BooleanArray(values, na), index=frame.index, name=m.name)
    m = pd.Series(m, index=frame.index).astype("boolean").fillna(False).astype("boolean")
    m[na] = pd.NA
    return m


def _text_mask(s: pd.Series, op: str, v, index: pd.Index) -> pd.Series:
    """:func:`condition_mask` of ``equals``/``not_equals``/``in``/``not_in`` on an object column: each distinct
    value compared once (``factorize``; its missing values are those of ``isna``), as ``==``/``!=``
    (``PyObject_RichCompareBool``: an object is equal to itself) and ``isin`` compare every row."""
    codes, uniques = pd.factorize(s.to_numpy())
    if op == "equals":
        hit = [u is v or bool(u == v) for u in uniques]
    elif op == "not_equals":
        hit = [u is not v and bool(u != v) for u in uniques]
    else:
        hit = pd.Series(uniques, dtype=object).isin(v).to_numpy(dtype=bool)
        if op == "not_in":
            hit = ~hit
    table = np.append(np.asarray(hit, dtype=bool), False)   # code -1 (missing) picks the trailing False
    return pd.Series(pd.arrays.BooleanArray(table[codes], codes < 0), index=index, name=s.name)


def _criteria(proto: Protocol):
    for kind in ("include", "exclude"):
        for i, crit in enumerate(getattr(proto.cohort, kind)):
            yield kind, i, crit


def _apply(cur: pd.DataFrame, kind: str, i: int, crit, proto: Protocol, rows: list) -> pd.DataFrame:
    return cur.loc[_step(condition_mask(cur, crit, proto, ("cohort", kind, i)), kind, i, crit, proto, rows)]


def _step(m: pd.Series, kind: str, i: int, crit, proto: Protocol, rows: list) -> np.ndarray:
    """The rows a criterion keeps (its condition ``m``), with its line of the flow in ``rows``."""
    keep = m.fillna(False) if kind == "include" else ~m.fillna(False)
    keep = keep.to_numpy(dtype=bool)
    n_out = int((~keep).sum())
    # an inclusion criterion whose value is missing excludes the patient as "unknown", not as "not met"
    # (an exclusion criterion on a missing value keeps the patient, so none of its exclusions is unknown)
    n_unknown = int(m.isna().to_numpy(dtype=bool)[~keep].sum()) if crit.missing_is == "unknown" else 0
    desc = crit.label or crit.describe()
    label = f"Not meeting: {desc}" if kind == "include" else f"Excluded: {desc}"
    n_left = int(keep.sum())
    rows.append({"step": f"{kind}.{i}", "label": label, "n_excluded": n_out, "n_unknown": n_unknown,
                 "n_remaining": n_left})
    if n_left == 0:
        raise _err(proto, ("cohort", kind, i),
                   f"empty cohort: no patient is left after criterion {desc!r} "
                   f"({n_out} excluded here; flow: " +
                   ", ".join(f"{r['label']} {r['n_remaining']}" for r in rows) + ")")
    return keep


def _reads(cond: Condition, frame: pd.DataFrame) -> list | None:
    """The columns a condition reads, if all are columns of ``frame`` (else None)."""
    if cond.expr is None:
        names = [cond.column]
    else:
        try:
            names = list(parse_expression(cond.expr).names)
        except ExpressionError:
            return None
    return names if all(isinstance(n, str) and n in frame.columns for n in names) else None


def _rows(frame: pd.DataFrame, pos: np.ndarray | None, cond: Condition) -> pd.DataFrame:
    """``frame.iloc[pos]`` (all of ``frame`` for None) as far as ``cond`` reads it: only the columns it reads,
    when they all exist (a condition on an unknown column gets the whole frame, for its error). The rows
    left after each criterion are positions: the frame is cut once, at the end (``_cut``), not at each step."""
    if pos is None:
        return frame
    names = _reads(cond, frame)
    return frame.iloc[pos] if names is None else frame.iloc[pos, frame.columns.get_indexer(names)]


def _cut(frame: pd.DataFrame, pos: np.ndarray | None) -> pd.DataFrame:
    return frame if pos is None else frame.iloc[pos]


def prefilter(tables: dict[str, pd.DataFrame], proto: Protocol) -> tuple[dict[str, pd.DataFrame], list, int]:
    """Apply the leading inclusion criteria that only read the ``patients`` table before deriving
    endpoints (e.g. primary site), so that ``derive_endpoints`` works on the candidates only.

    Endpoints are derived per patient, so the analysis frame of the kept patients is the same
    either way (tested); the flow counts are the same as after derivation. Returns (the tables with
    the patients table cut to the kept patients, flow rows so far, number of criteria applied); the
    other tables stay whole, as ``derive_endpoints`` reads only the records of the patients it is given.
    """
    patients = tables["patients"]
    rows = [{"step": "source", "label": proto.cohort.source_label, "n_excluded": 0, "n_unknown": 0,
             "n_remaining": len(patients)}]
    derived = {d.name for d in proto.derive}
    cols = set(F.TABLES["patients"].field_names) - derived
    cur, k = patients, 0
    for kind, i, crit in _criteria(proto):
        if kind != "include" or crit.expr is not None or crit.column not in cols:
            break
        cur = _apply(cur, kind, i, crit, proto, rows)
        k += 1
    if k == 0:
        return tables, rows, 0
    # only the patients table: derive_endpoints reads no other patient's records at the patient level
    # (derive._in_scope), so filtering every table here hashed the same ids a second time
    return {**tables, "patients": cur}, rows, k


def apply_cohort(frame: pd.DataFrame, proto: Protocol, *, rows: list | None = None, skip: int = 0
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply inclusion then exclusion criteria; returns (cohort, flow).

    ``flow`` columns: ``step`` (``source``, ``include.<i>``, ``exclude.<i>``), ``label``,
    ``n_excluded``, ``n_unknown`` (of the excluded, those whose criterion value is missing), ``n_remaining``.
    ``rows``/``skip`` continue the flow of :func:`prefilter`.
    """
    pos, flow = cohort_rows(frame, proto, rows=rows, skip=skip)
    return _cut(frame, pos), flow


def cohort_rows(frame: pd.DataFrame, proto: Protocol, *, rows: list | None = None, skip: int = 0
                ) -> tuple[np.ndarray | None, pd.DataFrame]:
    """:func:`apply_cohort` as the positions of the cohort's rows in ``frame`` (None: every row, no criterion)."""
    rows = list(rows) if rows is not None else \
        [{"step": "source", "label": proto.cohort.source_label, "n_excluded": 0, "n_unknown": 0,
          "n_remaining": len(frame)}]
    pos = None
    for j, (kind, i, crit) in enumerate(_criteria(proto)):
        if j < skip:
            continue
        keep = _step(condition_mask(_rows(frame, pos, crit), crit, proto, ("cohort", kind, i)), kind, i, crit,
                     proto, rows)
        pos = np.flatnonzero(keep) if pos is None else pos[keep]
    return pos, pd.DataFrame(rows)


def assign_groups(cohort: pd.DataFrame, flow: pd.DataFrame, proto: Protocol) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the categorical column ``exposure`` (levels in protocol order, the first is the
    reference); patients in no group leave the cohort. Returns (cohort, flow)."""
    return assign_groups_at(cohort, None, flow, proto)


def assign_groups_at(frame: pd.DataFrame, pos: np.ndarray | None, flow: pd.DataFrame, proto: Protocol
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`assign_groups` of the cohort ``frame.iloc[pos]`` (:func:`cohort_rows`), cut from ``frame`` once."""
    if proto.exposure is None:
        return _cut(frame, pos), flow
    names = [g.name for g in proto.exposure.groups]
    index = frame.index if pos is None else frame.index[pos]
    masks, unknown = [], np.zeros(len(index), dtype=bool)
    for gi, g in enumerate(proto.exposure.groups):
        m = pd.Series(True, index=index, dtype="boolean")
        for ci, cond in enumerate(g.where):
            m &= condition_mask(_rows(frame, pos, cond), cond, proto, ("exposure", "groups", gi, "where", ci))
        unknown |= m.isna().to_numpy(dtype=bool)   # a group condition on a missing value
        masks.append(m.fillna(False).to_numpy(dtype=bool))
    mat = np.column_stack(masks)
    at = np.arange(len(frame)) if pos is None else pos
    overlap = mat.sum(axis=1) > 1
    if overlap.any():
        ids = list(frame["patient_id"].iloc[at[overlap]][:5]) if "patient_id" in frame else []
        raise _err(proto, ("exposure", "groups"),
                   f"{int(overlap.sum())} patient(s) fall in more than one exposure group (e.g. {ids}); "
                   f"make the group conditions mutually exclusive")
    for gi, name in enumerate(names):
        if not mat[:, gi].any():
            raise _err(proto, ("exposure", "groups", gi),
                       f"exposure group {name!r} has no patients in the cohort of {len(index)}; "
                       f"check its conditions")
    in_any = mat.any(axis=1)
    code = np.where(in_any, mat.argmax(axis=1), -1)
    out = frame.iloc[at[in_any]].copy() if pos is None else frame.iloc[at[in_any]]
    out[GROUP] = pd.Categorical.from_codes(code[in_any], categories=names)
    n_out = int((~in_any).sum())
    if n_out:
        flow = pd.concat([flow, pd.DataFrame([{"step": "exposure", "label": "In no exposure group",
                                                "n_excluded": n_out, "n_unknown": int((unknown & ~in_any).sum()),
                                                "n_remaining": len(out)}])],
                         ignore_index=True)
    return out, flow


def check_endpoints(cohort: pd.DataFrame, proto: Protocol) -> None:
    """Every declared endpoint must exist in the analysis frame and be defined for some patient."""
    for i, ep in enumerate(proto.endpoints):
        for role, col in (("time", ep.time_col), ("event", ep.event_col)):
            if col not in cohort.columns:
                known = sorted(c[:-5] for c in cohort.columns if c.endswith("_time"))
                raise _err(proto, ("endpoints", i),
                           f"endpoint {ep.name!r} cannot be derived from the registry: no {role} column {col!r}; "
                           f"derivable endpoints: {', '.join(known)}")
        defined = cohort[ep.time_col].notna() & cohort[ep.event_col].notna()
        if not defined.any():
            raise _err(proto, ("endpoints", i),
                       f"endpoint {ep.name!r} cannot be derived from the registry for any of the {len(cohort)} "
                       f"patients in the cohort ({ep.time_col!r} is missing for all; e.g. DFS needs a curative "
                       f"local index treatment)")
