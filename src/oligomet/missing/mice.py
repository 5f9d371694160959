"""Multiple imputation by chained equations, the algorithm of R's ``mice()`` (mice 3.15).

``impute(data, m=20, seed=1)`` returns an :class:`Imputation` holding m completed copies of ``data``.
As ``mice()`` with its defaults:

* every incomplete column is imputed, with a method chosen by its type (``method=`` overrides):
  numbers by ``pmm``, two-level factors (bool, category, strings) by ``logreg``, factors with more
  levels by ``polyreg`` (mice would use ``polr`` for *ordered* factors; here they get ``polyreg``);
* each column's imputation model uses every other column as a predictor (``predictors=`` overrides),
  numbers as they are and factors as treatment-contrast dummies (R's ``model.matrix``);
* the chains start from random draws of each column's observed values, then visit the incomplete
  columns left to right ``maxit`` times, each time re-fitting the column's model on its observed rows
  (after mice's ``remove.lindep`` screening of the predictors) and re-drawing its missing values;
* rows where a predictor that is not imputed (``method[col] = ""``) is missing are neither used to fit
  nor imputed, as ``mice``'s ``complete.cases``; their values stay missing (and a warning says so).

Where mice logs an event and carries on, this raises a ``ValueError`` that names the column, because
the analysis would otherwise silently change: a column missing in every row, a constant column, a
pair of collinear columns (|r| >= 0.999), a factor with more than 50 levels (mice's ``maxcat``).

Survival outcomes (White & Royston 2009): with ``time=`` and ``event=``, the event indicator and the
cumulative hazard H(T) (:func:`~oligomet.missing.nelsonaalen.nelsonaalen`) enter every imputation model and
the time itself does not. For competing risks (event codes 0, 1, 2, ...) the event enters as a factor
and each cause's cumulative hazard is added. The added columns are not part of the completed datasets.

Randomness: one ``numpy.random.SeedSequence(seed)`` is split into m independent streams, one per chain,
so a given ``seed`` reproduces the imputations exactly (``Imputation.seed`` records the seed used when
none was given). The streams are NumPy's, not R's, so the imputed values are not R's.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import event_codes, group_labels, require_frame, time_array
from . import methods as mth
from .nelsonaalen import cumulative_hazard_at
from ..survival._blas_threads import single_threaded_blas
from ..survival._ties import merge_near_ties
from .._notebook import TidyTablesHTML

__all__ = ["impute", "Imputation"]

METHODS = ("pmm", "logreg", "polyreg", "")
_CONSTANT = 1000 * np.finfo(float).eps     # mice's edit.setup threshold on the variance
_COLLINEAR = 0.999                          # mice's find.collinear threshold


@dataclass(frozen=True, eq=False)
class Imputation(TidyTablesHTML):
    """m completed datasets and the diagnostics of the chains that made them (R: a ``mids`` object).

    Attributes
    ----------
    datasets : tuple of m DataFrames, copies of the input with the missing values imputed (same index,
        columns and dtypes). Iterating over an ``Imputation`` yields them.
    variables : DataFrame indexed by column: ``kind`` (numeric/categorical), ``method``, ``n_missing``,
        ``n_not_imputed`` (rows left missing, see the module docstring), ``predictors`` (comma-separated).
    predictor_matrix : 0/1 DataFrame, rows = imputed columns, columns = predictors (mice's
        ``predictorMatrix``), including added survival columns.
    chains : tidy DataFrame ``variable``, ``iteration``, ``imputation``, ``mean``, ``var`` of the imputed
        values after each iteration (mice's ``chainMean``/``chainVar``; a factor by its level number 1..K).
        Chains that still trend at the last iteration call for a larger ``maxit``.
    events : tidy DataFrame ``iteration``, ``imputation``, ``variable``, ``removed``, ``reason``: predictors
        that mice's ``remove.lindep`` screened out of a model, and ridge penalties (mice's ``loggedEvents``).
    m, maxit, donors, seed : the settings; ``seed`` reproduces the run.
    time, event, added : the survival columns, and the names of the columns added as predictors.
    """

    _html_tables = ("m", "maxit", "seed", "variables")

    datasets: tuple
    variables: pd.DataFrame
    predictor_matrix: pd.DataFrame
    chains: pd.DataFrame
    events: pd.DataFrame
    m: int
    maxit: int
    donors: int
    seed: int
    time: str | None = None
    event: str | None = None
    added: tuple = ()

    def __len__(self) -> int:
        return len(self.datasets)

    def __iter__(self):
        return iter(self.datasets)

    def __getitem__(self, i: int) -> pd.DataFrame:
        return self.datasets[i]

    def long(self) -> pd.DataFrame:
        """All completed datasets stacked, with ``.imp`` = 1..m first (R: ``complete(imp, "long")``)."""
        return pd.concat([d.assign(**{".imp": i}) for i, d in enumerate(self.datasets, start=1)]).loc[
            :, [".imp", *self.datasets[0].columns]]

    def analyse(self, fit: Callable, *args, **kwargs) -> list:
        """``fit(dataset, *args, **kwargs)`` on every completed dataset (R: ``with(imp, ...)``); pool with ``pool``."""
        return [fit(d, *args, **kwargs) for d in self.datasets]

    def __str__(self) -> str:
        v = self.variables[self.variables["method"] != ""]
        return (f"Multiple imputation (chained equations): m = {self.m}, maxit = {self.maxit}, seed = {self.seed}\n"
                + v[["method", "n_missing"]].to_string())


# ---------------------------------------------------------------- columns

@dataclass
class _Column:
    name: object
    kind: str                  # "numeric" or "categorical"
    values: np.ndarray         # float values, or level codes 0..K-1 as float; NaN where missing
    levels: tuple = ()
    missing: np.ndarray = field(default=None)

    @property
    def n_dummies(self) -> int:
        return 1 if self.kind == "numeric" else len(self.levels) - 1

    def design(self) -> np.ndarray:
        """The column's design columns (R's model.matrix, treatment contrasts), NaN where missing."""
        if self.kind == "numeric":
            return self.values[:, None]
        out = (self.values[:, None] == np.arange(1, len(self.levels))[None, :]).astype(float)
        out[self.missing] = np.nan
        return out


def _encode(s: pd.Series, name, as_factor: bool = False) -> _Column:
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        raise ValueError(f"column {name!r} holds dates or durations ({s.dtype}); impute a number instead (e.g. days "
                         f"since an origin), or leave the column out of the data given to impute")
    missing = s.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
        and not isinstance(s.dtype, pd.CategoricalDtype)
    if numeric and not as_factor:
        return _Column(name, "numeric", s.to_numpy(dtype=float, na_value=np.nan), (), missing)
    codes, levels = group_labels(s.to_frame(), name)
    values = np.where(codes < 0, np.nan, codes.astype(float))
    return _Column(name, "categorical", values, tuple(levels), missing)


def _restore(original: pd.Series, col: _Column, rows: np.ndarray, values: np.ndarray) -> pd.Series:
    """``original`` with the imputed ``values`` written at positions ``rows``, in the original dtype."""
    out = original.copy()
    if col.kind == "categorical":
        values = np.asarray(col.levels, dtype=object)[values.astype(np.int64)]
        if pd.api.types.is_bool_dtype(original.dtype) or original.dtype == object:
            values = list(values)
    elif pd.api.types.is_integer_dtype(original.dtype):
        values = values.astype(np.int64)
    out.iloc[rows] = values
    return out


# ---------------------------------------------------------------- set-up

def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _survival_columns(data: pd.DataFrame, time: str | None, event: str | None) -> tuple[pd.DataFrame, tuple, bool]:
    """Add the cumulative hazard column(s); returns (data, added names, whether the event is a factor)."""
    if time is None and event is None:
        return data, (), False
    if time is None or event is None:
        raise ValueError("give both time= and event= (the event indicator and the cumulative hazard at the "
                         "subject's time enter the imputation models), or neither")
    t = merge_near_ties(time_array(data, time))
    codes = event_codes(data, event)
    causes = sorted(set(codes.tolist()) - {0})
    if not causes:
        raise ValueError(f"event column {event!r} has no events: the cumulative hazard is 0 for everyone")
    names = [f"H({time})"] if len(causes) == 1 else [f"H{c}({time})" for c in causes]
    clash = [n for n in names if n in data.columns]
    if clash:
        raise ValueError(f"the data already has column(s) {clash}; impute adds them as the cumulative hazard")
    added = {n: cumulative_hazard_at(t, (codes == c).astype(float)) for n, c in zip(names, causes)}
    return data.assign(**added), tuple(names), len(causes) > 1


def _methods(cols: dict, method) -> dict:
    out = {}
    for name, col in cols.items():
        if not col.missing.any():
            out[name] = ""
        elif col.kind == "numeric":
            out[name] = "pmm"
        else:
            out[name] = "logreg" if len(col.levels) == 2 else "polyreg"
    if method is None:
        return out
    if isinstance(method, str):
        method = {name: method for name in cols if cols[name].missing.any()}
    if not isinstance(method, Mapping):
        raise TypeError(f"method must be None, a method name or a dict {{column: method}}, got {type(method).__name__}")
    problems = []
    for name, meth in method.items():
        if name not in cols:
            problems.append(f"method given for unknown column {name!r}")
        elif meth not in METHODS:
            problems.append(f"column {name!r}: unknown method {meth!r}; available: 'pmm', 'logreg', 'polyreg', '' "
                            f"(not imputed)")
        elif not cols[name].missing.any():
            continue    # nothing to impute; the table of variables shows n_missing = 0
        elif meth == "pmm" and cols[name].kind != "numeric":
            problems.append(f"column {name!r} is categorical: use 'logreg' (2 levels) or 'polyreg', not 'pmm'")
        elif meth in ("logreg", "polyreg") and cols[name].kind == "numeric":
            problems.append(f"column {name!r} is numeric: use 'pmm', or make it categorical (e.g. "
                            f"df[{name!r}].astype('category')) for {meth!r}")
        elif meth == "logreg" and len(cols[name].levels) != 2:
            problems.append(f"column {name!r} has {len(cols[name].levels)} levels: 'logreg' needs 2, use 'polyreg'")
        else:
            out[name] = meth
    if problems:
        raise ValueError("impute: " + "; ".join(problems))
    return out


def _predictor_matrix(cols: dict, meth: dict, predictors, exclude: Sequence) -> pd.DataFrame:
    names = list(cols)
    pm = pd.DataFrame(0, index=[n for n in names if meth[n]], columns=names, dtype=np.int64)
    for target in pm.index:
        pm.loc[target, [n for n in names if n != target and n not in exclude]] = 1
    if predictors is None:
        return pm
    if isinstance(predictors, pd.DataFrame):
        unknown = [c for c in list(predictors.index) + list(predictors.columns) if c not in cols]
        if unknown:
            raise ValueError(f"predictors: unknown column(s) {unknown}; the data has columns {names}")
        spec = {t: [c for c in predictors.columns if predictors.loc[t, c]] for t in predictors.index}
    elif isinstance(predictors, Mapping):
        spec = {t: [p] if isinstance(p, str) else list(p) for t, p in predictors.items()}
        unknown = sorted({repr(c) for t, ps in spec.items() for c in [t, *ps] if c not in cols})
        if unknown:
            raise ValueError(f"predictors: unknown column(s) {', '.join(unknown)}; the data has columns {names}")
    else:
        raise TypeError("predictors must be None, a dict {column: [predictor columns]} or a 0/1 DataFrame "
                        "(rows: imputed columns, columns: predictors), as mice's predictorMatrix")
    for target, preds in spec.items():
        if target in pm.index:
            pm.loc[target] = 0
            pm.loc[target, [p for p in preds if p != target]] = 1
    return pm


def _check_models(cols: dict, meth: dict, pm: pd.DataFrame) -> None:
    """Every problem that makes an imputation model unfittable, reported at once with the column named."""
    used = [n for n in cols if meth[n] or (n in pm.columns and pm[n].any())]
    problems = []
    for name in used:
        col = cols[name]
        role = "imputed" if meth[name] else "a predictor"
        n_obs = int((~col.missing).sum())
        if n_obs == 0:
            problems.append(f"column {name!r} is missing in every row ({col.missing.size} of {col.missing.size}), "
                            "so it cannot be "
                            f"{'imputed (there is nothing to fit its model on)' if meth[name] else 'used'}"
                            f"; drop the column or supply values")
            continue
        obs = col.values[~col.missing]
        if col.kind == "categorical" and len(col.levels) > mth.MAX_CATEGORIES:
            problems.append(f"column {name!r} ({role}) has {len(col.levels)} distinct values, more than the "
                            f"{mth.MAX_CATEGORIES} categories mice allows; if it is a number convert it "
                            f"(pd.to_numeric), if it is an identifier leave it out of the data")
        elif (np.var(obs, ddof=1) if obs.size > 1 else 0.0) < _CONSTANT:
            shown = col.levels[int(obs[0])] if col.kind == "categorical" else obs[0]
            shown = shown.item() if isinstance(shown, np.generic) else shown
            problems.append(f"column {name!r} ({role}) is constant (every observed value is {shown!r}): "
                            f"{'its imputation model cannot be fitted' if meth[name] else 'it cannot predict anything'}"
                            f"; leave it out of the data (mice would drop it silently)")
    if problems:
        raise ValueError("impute: " + "; ".join(problems))
    predictors = [n for n in cols if n in pm.columns and pm[n].any()]
    if len(predictors) > 1:
        mat = np.column_stack([cols[n].values for n in predictors])
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            cor = pd.DataFrame(mat).corr(min_periods=3).to_numpy()
        pairs = [(predictors[i], predictors[j], cor[i, j]) for i in range(len(predictors))
                 for j in range(i + 1, len(predictors)) if abs(cor[i, j]) >= _COLLINEAR]
        if pairs:
            raise ValueError("impute: collinear predictors (|correlation| >= 0.999 where both are observed): "
                             + "; ".join(f"{a!r} and {b!r} (r = {r:.4f})" for a, b, r in pairs)
                             + ". Keep one of each pair (mice would drop one silently)")


# ---------------------------------------------------------------- the sampler

class _Chains:
    """The fixed set-up of the chains: columns, design layout, each target's predictors and usable rows."""

    def __init__(self, cols: dict, meth: dict, pm: pd.DataFrame, donors: int):
        self.cols = cols
        self.names = list(cols)
        self.visit = [n for n in self.names if meth[n]]
        self.meth = meth
        self.donors = donors
        # only predictors get design columns: an identifier column left in the data costs nothing
        self.used = [n for n in self.names if pm[n].any()]
        widths = [cols[n].n_dummies for n in self.used]
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.slices = {n: np.arange(starts[i], starts[i + 1]) for i, n in enumerate(self.used)}
        n_rows = len(next(iter(cols.values())).values)
        self.design = (np.column_stack([cols[n].design() for n in self.used]) if self.used
                       else np.zeros((n_rows, 0)))
        self.labels = {n: self._labels(n) for n in self.names}
        self.pred_cols, self.pred_labels, self.ry, self.wy = {}, {}, {}, {}
        for target in self.visit:
            preds = [n for n in self.names if pm.loc[target, n]]
            self.pred_cols[target] = np.concatenate([self.slices[p] for p in preds]) if preds else np.zeros(0, int)
            self.pred_labels[target] = [lab for p in preds for lab in self.labels[p]]
            # predictors that are not imputed and have missing values exclude rows (R's complete.cases)
            blocked = np.zeros(len(cols[target].values), dtype=bool)
            for p in preds:
                if not meth[p]:
                    blocked |= cols[p].missing
            self.ry[target] = ~cols[target].missing & ~blocked
            self.wy[target] = cols[target].missing & ~blocked
        # the same rows as positions (gathers and scatters by position are cheaper than by mask, same values)
        self.wy_rows = {n: np.flatnonzero(self.wy[n]) for n in self.visit}
        self.blocked_rows = {n: np.flatnonzero(cols[n].missing & ~self.wy[n]) for n in self.visit}
        # the design changes during the chains only when an imputed column is a predictor
        self.design_changes = any(n in self.slices for n in self.visit)
        # a target none of whose predictors is imputed sees the same design at every step of every chain:
        # its screening and its pmm model are built once (the draws are the same as rebuilding them)
        self.fixed = {}
        for target in self.visit:
            if any(p in self.visit for p in self.names if pm.loc[target, p]) or not self.wy[target].any():
                continue
            x, y, ry = self.design[:, self.pred_cols[target]], cols[target].values, self.ry[target]
            mom = mth.Moments(x[ry], y[ry])
            keep, why = mth.remove_lindep(mom)
            if not keep.all():
                x, mom = x[:, keep], mom.subset(keep)
            model = mth.PMMModel(y, ry, self.wy[target], x, mom) if meth[target] == "pmm" else None
            self.fixed[target] = (x, mom, keep, why, model)

    def _labels(self, name) -> list[str]:
        col = self.cols[name]
        return [str(name)] if col.kind == "numeric" else [f"{name}[{lv}]" for lv in col.levels[1:]]

    def run(self, rng: np.random.Generator, maxit: int, chain: int, chains: list, events: list) -> dict:
        values = {n: self.cols[n].values.copy() for n in self.visit}
        design = self.design.copy() if self.design_changes else self.design   # read-only when it never changes
        caches = {n: {} for n in self.visit}      # per variable: the previous estimate, a starting value
        for n in self.visit:    # mice's initialize.imp: random draws from the observed values
            col = self.cols[n]
            obs = col.values[~col.missing]
            values[n][col.missing] = rng.choice(obs, size=int(col.missing.sum()), replace=True)
            if n in self.slices:
                design[:, self.slices[n]] = self._design_of(n, values[n])
        for it in range(1, maxit + 1):
            for n in self.visit:
                ry, wy, rows = self.ry[n], self.wy[n], self.wy_rows[n]
                if not rows.size:
                    continue
                if n in self.fixed:
                    x, mom, keep, why, model = self.fixed[n]
                else:
                    x = design[:, self.pred_cols[n]]
                    mom = mth.Moments(x[ry], values[n][ry])
                    keep, why = mth.remove_lindep(mom)
                    if not keep.all():
                        x, mom = x[:, keep], mom.subset(keep)
                    model = None
                if why:
                    removed = [lab for lab, k in zip(self.pred_labels[n], keep) if not k]
                    events.append((it, chain, n, ", ".join(removed), why))
                if not keep.all():
                    caches[n].clear()
                values[n][rows] = self._draw(n, values[n], ry, wy, x, mom, rng, caches[n], (it, chain, events), model)
                if self.blocked_rows[n].size:
                    values[n][self.blocked_rows[n]] = np.nan   # rows with a missing non-imputed predictor
                if n in self.slices:
                    design[:, self.slices[n]] = self._design_of(n, values[n])
            for n in self.visit:
                imp = values[n][self.wy_rows[n]] + (1.0 if self.cols[n].kind == "categorical" else 0.0)
                chains.append((n, it, chain, float(imp.mean()) if imp.size else np.nan,
                               float(imp.var(ddof=1)) if imp.size > 1 else np.nan))
        return values

    def _design_of(self, name, v: np.ndarray) -> np.ndarray:
        col = self.cols[name]
        if col.kind == "numeric":
            return v[:, None]
        out = (v[:, None] == np.arange(1, len(col.levels))[None, :]).astype(float)
        out[np.isnan(v)] = np.nan
        return out

    def _draw(self, name, y, ry, wy, x, mom, rng, cache, log, model=None) -> np.ndarray:
        meth = self.meth[name]
        if meth == "pmm":
            if model is None:
                out, ridge = mth.pmm(y, ry, wy, x, rng, self.donors, mom)
            else:
                out, ridge = model.draw(rng, self.donors, reuse_sort=True), model.fit.ridge
            if ridge:
                it, chain, events = log
                events.append((it, chain, name, "", "a ridge penalty was used (predictors nearly collinear)"))
            return out
        codes = np.where(np.isnan(y), 0, y).astype(np.int64)
        if meth == "logreg":
            return mth.logreg(codes, ry, wy, x, rng, cache).astype(float)
        return mth.polyreg(codes, ry, wy, x, rng, cache).astype(float)


def impute(data: pd.DataFrame, m: int = 20, seed: int | None = None, method=None, predictors=None, maxit: int = 10,
           time: str | None = None, event: str | None = None, donors: int = mth.DONORS) -> Imputation:
    """Multiple imputation by chained equations, as R's ``mice(data, m, method, predictorMatrix, maxit, seed)``.

    Parameters
    ----------
    data : one row per patient; every column takes part (as predictor, and imputed if incomplete). Leave
        out identifiers, dates and columns that must not inform the imputations.
    m : number of imputed datasets (mice's default is 5; 20 or more is the usual advice for reporting).
    seed : integer making the run reproducible; None draws one (recorded in ``.seed``).
    method : None (by column type: ``pmm``, ``logreg``, ``polyreg``), one method name for every incomplete
        column, or a dict ``{column: method}`` for some; ``""`` leaves a column unimputed.
    predictors : None (every other column), a dict ``{column: [predictor columns]}`` for some imputed
        columns, or a 0/1 DataFrame as mice's ``predictorMatrix`` (rows imputed columns).
    maxit : iterations of the chained equations (mice's default is 5).
    time, event : the survival outcome: adds the event and the cumulative hazard H(time) as predictors and
        removes the time (White & Royston 2009). Both must be complete.
    donors : number of donors of predictive mean matching (mice's 5).
    """
    data = require_frame(data)
    m = _check_count(m, "m", 1)
    maxit = _check_count(maxit, "maxit", 1)
    donors = _check_count(donors, "donors", 1)
    if seed is not None:
        _check_count(seed, "seed", 0)
    if data.columns.has_duplicates:
        raise ValueError(f"data has duplicate column names: {sorted(set(data.columns[data.columns.duplicated()]))}")
    if len(data) < 2:
        raise ValueError(f"impute needs at least 2 rows, got {len(data)}")
    work, added, event_factor = _survival_columns(data, time, event)
    cols = {n: _encode(work[n], n, as_factor=(n == event and event_factor)) for n in work.columns}
    meth = _methods(cols, method)
    if time is not None and meth[time]:
        raise ValueError(f"time column {time!r} cannot be imputed")   # unreachable: time_array refuses NaN
    pm = _predictor_matrix(cols, meth, predictors, exclude=[time] if time is not None else [])
    _check_models(cols, meth, pm)

    chains_setup = _Chains(cols, meth, pm, donors)
    seq = np.random.SeedSequence(seed)
    streams = [np.random.default_rng(s) for s in seq.spawn(m)]
    chain_rows, events = [], []
    with single_threaded_blas():    # hundreds of small fits: OpenBLAS thread wake-ups would dominate
        results = [chains_setup.run(rng, maxit, i, chain_rows, events) for i, rng in enumerate(streams, start=1)]

    datasets = []
    for values in results:
        out = data.copy(deep=False)    # copy-on-write: the columns not imputed are shared, not copied
        for n in chains_setup.visit:
            rows = np.flatnonzero(chains_setup.wy[n])
            if rows.size:
                out[n] = _restore(data[n], cols[n], rows, values[n][rows])
        datasets.append(out)
    not_imputed = {n: int((cols[n].missing & ~chains_setup.wy.get(n, cols[n].missing)).sum()) if meth[n] else 0
                   for n in cols}
    blocked = {n: k for n, k in not_imputed.items() if k}
    if blocked:
        warnings.warn("impute: rows left missing because a predictor that is not imputed is missing there: "
                      + ", ".join(f"{n!r} ({k} rows)" for n, k in blocked.items()), mth.ImputationWarning,
                      stacklevel=2)
    variables = pd.DataFrame({
        "kind": [cols[n].kind for n in cols],
        "method": [meth[n] for n in cols],
        "n_missing": [int(cols[n].missing.sum()) for n in cols],
        "n_not_imputed": [not_imputed[n] for n in cols],
        "predictors": [", ".join(map(str, pm.columns[pm.loc[n] == 1])) if n in pm.index else "" for n in cols]},
        index=pd.Index(list(cols), name="variable"))
    return Imputation(
        datasets=tuple(datasets), variables=variables, predictor_matrix=pm,
        chains=pd.DataFrame(chain_rows, columns=["variable", "iteration", "imputation", "mean", "var"]),
        events=pd.DataFrame(events, columns=["iteration", "imputation", "variable", "removed", "reason"]),
        m=m, maxit=maxit, donors=donors, seed=int(seq.entropy), time=time, event=event, added=added)
