"""Input checks shared by every DataFrame-facing estimator.

One declared place for the rules, so that ``kaplan_meier``, ``logrank``, ``cox``,
``cumulative_incidence``, ``match`` ... reject bad input with the same wording:
every error names the column, the offending rows (index labels) and what is wrong.

Policy (mirrors R's ``na.action = na.omit`` where R would drop, and is stricter
where R would silently compute nonsense):

* time: must be numeric, finite and >= 0. NaN or negative times are an error,
  not a silent drop, because they almost always mean a date-derivation bug.
* event: must be in {0, 1, True, False} (or, for competing risks, non-negative
  integers; see :func:`event_codes`).
* covariates, groups, strata, weights, clusters: rows with missing values are
  dropped (complete-case analysis, as R does) and the drop is reported through a
  :class:`DroppedRows` record and a :class:`CompleteCaseWarning`.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

_MAX_LISTED_ROWS = 10


class CompleteCaseWarning(UserWarning):
    """Rows were dropped because of missing values (complete-case analysis)."""


def _rows(labels: Iterable) -> str:
    labels = list(labels)
    shown = ", ".join(repr(x) for x in labels[:_MAX_LISTED_ROWS])
    more = f" and {len(labels) - _MAX_LISTED_ROWS} more" if len(labels) > _MAX_LISTED_ROWS else ""
    return f"row{'s' if len(labels) != 1 else ''} {shown}{more}"


@dataclass(frozen=True)
class DroppedRows:
    """What complete-case handling removed.

    ``n`` rows were dropped in total; ``by_column`` counts the missing values per
    column (a row missing two columns counts in both); ``rows`` holds the index
    labels of the dropped rows.
    """

    n: int = 0
    by_column: dict[str, int] = field(default_factory=dict)
    rows: tuple = ()

    def __str__(self) -> str:
        if not self.n:
            return "no rows dropped"
        cols = ", ".join(f"{c} ({k})" for c, k in self.by_column.items() if k)
        return f"{self.n} row(s) dropped for missing values in: {cols}"

    def as_frame(self) -> pd.DataFrame:
        """Columns ``column``, ``n_missing``."""
        return pd.DataFrame({"column": list(self.by_column), "n_missing": list(self.by_column.values())})


# --- parameters (the options of an estimator, beside the data rules below) ---------------------------------

TIES = ("efron", "breslow")


def require_choice(name: str, value, allowed) -> None:
    """``value`` is one of ``allowed``; the error lists them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def require_conf_level(conf_level) -> float:
    """A confidence level strictly between 0 and 1 (0.95, not 95)."""
    if isinstance(conf_level, bool) or not (isinstance(conf_level, (int, float, np.number)) and 0 < conf_level < 1):
        raise ValueError(f"conf_level must be a number strictly between 0 and 1 (e.g. 0.95); got {conf_level!r}")
    return float(conf_level)


def require_positive_finite(name: str, value, unit: str = "") -> float:
    """A finite number > 0 (``unit`` says in what, for the message)."""
    if isinstance(value, bool) or not (isinstance(value, (int, float, np.number)) and np.isfinite(value)
                                       and value > 0):
        raise ValueError(f"{name} must be a finite number > 0{unit}; got {value!r}")
    return float(value)


def require_frame(data) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.index.has_duplicates:
        # Row labels are how errors and matched pairs refer to rows; they must be unique.
        raise ValueError("data has duplicate index labels; call data.reset_index(drop=True) first")
    return data


def require_columns(data: pd.DataFrame, columns: Sequence[str | None], role: str = "column") -> None:
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        available = ", ".join(map(str, data.columns[:30]))
        raise ValueError(f"unknown {role} {', '.join(map(repr, missing))}; the data has columns: {available}")


_ROLES_NAMING_COLUMNS = {"covariate", "variable"}   # "unknown covariate 'x'" already says it is a column


def require_roles(data: pd.DataFrame, **roles) -> None:
    """Every column named for a role exists; the error names each unknown column with its role (``time``,
    ``group``, ...; underscores read as spaces), all at once. A role's value is a name, a list of names or None."""
    problems = []
    for role, names in roles.items():
        names = [names] if names is None or isinstance(names, str) else list(names)
        what = role.replace("_", " ") + ("" if role in _ROLES_NAMING_COLUMNS else " column")
        problems += [f"unknown {what} {c!r}" for c in names
                     if c is not None and c not in data.columns]
    if problems:
        available = ", ".join(map(str, data.columns[:30]))
        raise ValueError(f"{'; '.join(problems)}; the data has columns: {available}")


def complete_cases(data: pd.DataFrame, columns: Sequence[str | None], *, warn: bool = True,
                   what: str = "analysis", stacklevel: int = 3) -> tuple[pd.DataFrame, DroppedRows]:
    """Drop rows with a missing value in any of ``columns`` and report it.

    ``stacklevel`` as in ``warnings.warn``; the default points at the caller of the estimator that calls this.
    """
    cols = [c for c in dict.fromkeys(columns) if c is not None]
    require_columns(data, cols)
    na = data[cols].isna()
    bad = na.any(axis=1).to_numpy()
    if not bad.any():
        return data, DroppedRows()
    dropped = DroppedRows(n=int(bad.sum()), by_column={c: int(na[c].sum()) for c in cols if na[c].any()},
                          rows=tuple(data.index[bad]))
    if warn:
        warnings.warn(f"{what}: {dropped} (complete-case analysis, as R's na.omit)", CompleteCaseWarning,
                      stacklevel=stacklevel)
    return data.loc[~bad], dropped


def time_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """Follow-up times as float64; NaN, infinite or negative values are an error."""
    require_columns(data, [column], "time column")
    raw = data[column]
    _reject_non_duration(raw, column)
    if not pd.api.types.is_numeric_dtype(raw):
        coerced = pd.to_numeric(raw, errors="coerce")
        bad = coerced.isna() & raw.notna()
        if bad.any():
            example = raw[bad].iloc[0]
            hint = ("; " + _TIME_HINT.format(c=column)) if isinstance(example, (dt.date, dt.timedelta)) else ""
            raise ValueError(f"time column {column!r} is not numeric: {_rows(data.index[bad.to_numpy()])} "
                             f"(e.g. {example!r}){hint}")
        raw = coerced
    t = raw.to_numpy(dtype=float)
    nan = np.isnan(t)
    if nan.any():
        raise ValueError(f"time column {column!r} has missing (NaN) values at {_rows(data.index[nan])}")
    inf = np.isinf(t)
    if inf.any():
        raise ValueError(f"time column {column!r} has infinite values at {_rows(data.index[inf])}")
    neg = t < 0
    if neg.any():
        raise ValueError(f"time column {column!r} has negative times at {_rows(data.index[neg])} "
                         f"(e.g. {t[neg][0]!r}); check the date of origin")
    return t


_TIME_HINT = ("a time must be a number of units (e.g. months) since the origin; convert it first, e.g. "
              "df[{c!r}] = (df.death_date - df.start_date).dt.days / 30.4375 for months")


def _reject_non_duration(raw: pd.Series, column: str) -> None:
    """Dates, durations and booleans are not follow-up times, though pandas turns each into a number:
    datetime64 and timedelta64 into nanoseconds (a KM median of 1.6e18), bool into 0/1."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        raise ValueError(f"time column {column!r} holds dates ({raw.dtype}), not times since an origin; "
                         + _TIME_HINT.format(c=column))
    if pd.api.types.is_timedelta64_dtype(raw):
        raise ValueError(f"time column {column!r} holds durations ({raw.dtype}), which would be read as "
                         f"nanoseconds; convert them to a number of units, e.g. "
                         f"df[{column!r}] = df[{column!r}].dt.days / 30.4375 for months")
    if raw.dtype == bool or pd.api.types.is_bool_dtype(raw) or (
            raw.dtype == object and raw.map(lambda v: isinstance(v, (bool, np.bool_))).any()):
        raise ValueError(f"time column {column!r} holds True/False values, not times (is it the event "
                         f"indicator?); " + _TIME_HINT.format(c=column))


def require_start_before_stop(data: pd.DataFrame, start: str, time: str, entry: np.ndarray, stop: np.ndarray) -> None:
    """(start, stop] rows: every start must be before its stop (R would drop such rows with a warning)."""
    bad = entry >= stop
    if bad.any():
        raise ValueError(f"start column {start!r} must be < time column {time!r} on every row (each row is at risk "
                         f"on (start, time]); start >= time at {_rows(data.index[bad])}")


def event_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """A 0/1 event indicator as float64; anything outside {0, 1, True, False} is an error."""
    require_columns(data, [column], "event column")
    raw = data[column]
    if raw.dtype == bool:
        return raw.to_numpy(dtype=float)
    v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(v, (0.0, 1.0))
    if bad.any():
        examples = sorted({repr(x) for x in raw[bad].head(5)})
        raise ValueError(f"event column {column!r} must be 0/1 or True/False; found {', '.join(examples)} at "
                         f"{_rows(data.index[bad])}")
    return v


def event_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Competing-risk status: 0 = censored, 1, 2, ... = causes (non-negative integers)."""
    require_columns(data, [column], "event column")
    raw = data[column]
    v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(v) | (v < 0) | (v != np.round(v))
    if bad.any():
        examples = sorted({repr(x) for x in raw[bad].head(5)})
        raise ValueError(f"event column {column!r} must hold non-negative integers (0 = censored, 1, 2, ... = "
                         f"causes); found {', '.join(examples)} at {_rows(data.index[bad])}")
    return v.astype(np.int64)


def weight_array(data: pd.DataFrame, column: str) -> np.ndarray:
    require_columns(data, [column], "weights column")
    w = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(f"weights column {column!r} must be finite and >= 0; bad values at {_rows(data.index[bad])}")
    return w


def require_positive_weight(w: np.ndarray, what: str, codes: np.ndarray | None = None,
                            levels: Sequence | None = None, by: str | None = None) -> None:
    """Every curve needs some weight: with all weights 0 an estimator divides 0 by 0 (NaN, no warning)."""
    if codes is None:
        if not w.sum() > 0:
            raise ValueError(f"{what}: the weights are 0 on all {w.size} rows, so there is nothing to estimate; "
                             "check how the weights were computed (e.g. a matching that kept no rows)")
        return
    totals = np.bincount(codes[codes >= 0], weights=w[codes >= 0], minlength=len(levels))
    present = np.bincount(codes[codes >= 0], minlength=len(levels)) > 0
    empty = [levels[g] for g in np.flatnonzero(present & ~(totals > 0))]
    if empty:
        raise ValueError(f"{what}: the weights are 0 on every row of group(s) {', '.join(map(repr, empty))} of "
                         f"{by!r}, so there is nothing to estimate for them; drop those rows or check the weights")


def require_events(ev: np.ndarray, event: str, what: str, why: str) -> None:
    """An estimator built on event counts has nothing to work on without events."""
    if not (ev > 0).any():
        raise ValueError(f"event column {event!r} has no events in the {ev.size} analysed rows; {what} {why}")


#: A covariate must vary on a scale inside this range (mean absolute deviation, and |mean| below the upper
#: bound): the information matrix holds products of two covariates times the sample size, which overflow
#: (1e300) or underflow to 0 (1e-300) in double precision, and the model would then look rank-deficient.
COVARIATE_SCALE_RANGE = (1e-100, 1e100)


def require_covariate_scale(names: Sequence[str], mad: np.ndarray, mean: np.ndarray, what: str) -> None:
    """Refuse design columns out of numeric range, naming them and the scale, rather than letting the
    fit call them collinear or return NaN. ``mad``: mean absolute deviation per column (0 = constant,
    left to the caller's constant-covariate check); ``mean``: the column means."""
    lo, hi = COVARIATE_SCALE_RANGE
    mad, mean = np.asarray(mad, dtype=float), np.asarray(mean, dtype=float)
    bad = [j for j in range(len(names))
           if not (np.isfinite(mad[j]) and np.isfinite(mean[j]))
           or (mad[j] > 0 and not lo <= mad[j] <= hi) or abs(mean[j]) > hi]
    if bad:
        desc = "; ".join(f"{names[j]!r} varies on a scale of {mad[j]:.3g} (mean absolute deviation)" for j in bad)
        first = bad[0]
        size = mad[first] if np.isfinite(mad[first]) and mad[first] > 0 else abs(mean[first])
        factor = f"1e{int(np.floor(np.log10(size)))}" if np.isfinite(size) and size > 0 else "a power of 10"
        raise ValueError(f"{what}: covariate(s) out of numeric range: {desc}. A covariate must vary on a scale "
                         f"between {lo:g} and {hi:g} for the model to be computed in double precision; rescale "
                         f"it, e.g. df[{names[first]!r}] = df[{names[first]!r}] / {factor}, or express it in "
                         "other units")


def covariate_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean absolute deviation, mean) of each column of an (n, p) matrix; computed on the columns divided
    by their largest |value|, so that a column near the float limit (1e307) reports its scale, not inf."""
    x = np.asarray(x, dtype=float)
    top = np.abs(x).max(axis=0) if x.size else np.zeros(x.shape[1])
    unit = np.where(top > 0, top, 1.0)
    xs = x / unit
    mean = xs.mean(axis=0)
    return np.abs(xs - mean).mean(axis=0) * unit, mean * unit


def group_labels(data: pd.DataFrame, column: str) -> tuple[np.ndarray, list]:
    """Integer codes and the sorted level labels of a grouping column (R's factor order)."""
    require_columns(data, [column], "group column")
    col = data[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        # keep the categorical's own level order, minus levels with no rows (R's droplevels)
        col = col.cat.remove_unused_categories()
        return col.cat.codes.to_numpy(dtype=np.int64), list(col.cat.categories)
    levels = sorted(col.dropna().unique().tolist(), key=_sort_key)
    codes = pd.Categorical(col, categories=levels).codes.astype(np.int64)
    return codes, levels


def _sort_key(x):
    # Numbers before strings, each in natural order: R's factor() sorts levels this way.
    return (0, x, "") if isinstance(x, (int, float, np.integer, np.floating)) else (1, 0, str(x))


# --- data-lock dates -------------------------------------------------------------------------------

_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_FORMAT_PARTS = {"DD": ("%d", r"\d{1,2}"), "MM": ("%m", r"\d{1,2}"), "YYYY": ("%Y", r"\d{4}")}


def _declared_format(date_format: str) -> tuple[str, str]:
    """``DD/MM/YYYY``-style format as (strptime format, regex); an unknown part is a ValueError."""
    import re

    parts = re.split(r"([-/.])", date_format.strip().upper())
    if len(parts) != 5 or sorted(parts[::2]) != ["DD", "MM", "YYYY"] or parts[1] != parts[3]:
        raise ValueError(f"date format {date_format!r} is not supported; write its parts DD, MM and YYYY with one "
                         f"separator, e.g. DD/MM/YYYY or MM-DD-YYYY")
    return (parts[1].join(_FORMAT_PARTS[p][0] for p in parts[::2]),
            re.escape(parts[1]).join(_FORMAT_PARTS[p][1] for p in parts[::2]))


def lock_date(value, *, date_format: str | None = None, what: str = "data lock",
              declare: str = "declare its format (date_format)") -> pd.Timestamp | None:
    """A data-lock date: a date object, an ISO ``YYYY-MM-DD`` string, or a string in the declared
    ``date_format`` (``DD/MM/YYYY``, ...). Any other string is an error, never a guess: pandas would read
    ``01-02-2020`` as 2 January, month first. ``declare`` says how the caller declares a format."""
    import re

    if value is None:
        return None
    if isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a date or a YYYY-MM-DD string, got {type(value).__name__}")
    text = value.strip()
    fmt = _declared_format(date_format) if date_format is not None else None
    if re.fullmatch(_ISO_DATE, text):
        strptime = "%Y-%m-%d"
    elif fmt is not None and re.fullmatch(fmt[1], text):
        strptime = fmt[0]
    else:
        shown = f" or {date_format.strip().upper()} (the declared format)" if fmt is not None else ""
        hint = "" if fmt is not None else f", or {declare}"
        day_month = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
        if day_month and fmt is None:
            a, b, y = day_month.groups()
            hint = (f": it could be {y}-{int(b):02d}-{int(a):02d} (day first) or {y}-{int(a):02d}-{int(b):02d} "
                    f"(month first); write it as YYYY-MM-DD{hint}")
        raise ValueError(f"{what} {value!r} is not a date in YYYY-MM-DD (ISO){shown}{hint}")
    try:
        return pd.Timestamp(dt.datetime.strptime(text, strptime))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a valid calendar date") from None
