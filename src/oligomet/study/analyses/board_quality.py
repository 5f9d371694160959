"""Board quality: how often the tumor board's decisions follow its rules, and how patients fare after a
decision that follows them or departs from them.

Input: the board's decision record (the table ``board_decisions`` that ``oligomet board decide`` and the
web app append to) joined to the registry by patient id. A corrected decision counts only through its
correction (a record whose ``corrects`` names it replaces it).

* **Concordance**: per site and year (or month), the share of decisions whose chosen option is one of
  the rules' options, with the Wilson score 95% CI (R's ``prop.test(correct = FALSE)``), and the same
  over all sites;
* **Outcomes**: overall survival from the date of each patient's first board decision (death or last
  contact from the registry), Kaplan–Meier by concordance, and the Cox HR of a discordant vs a
  concordant decision, crude and adjusted for the protocol's ``adjust`` covariates.

The board departs from its rules for patients it judges different, so the outcome comparison is
confounded by indication; the report says so beside the numbers.

:func:`board_quality` is the computation on plain frames (the web app's quality dashboard calls it);
:func:`compute_board_quality` is the catalogue's entry, reading the decisions from the study's database.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy.stats import norm

import oligomet as om

from ...report.document import clean
from ..cohort import _err
from ._context import Computed, Ctx, quiet

DAYS_PER_MONTH = 30.4375
ALL_SITES = "All sites"
CONCORDANT, DISCORDANT = "Concordant", "Discordant"
DECISION_COLUMNS = ("id", "patient_id", "case_date", "concordant", "corrects")


@dataclass(frozen=True)
class BoardQualityResult(Computed):
    period: str = "year"
    unit: str = "months"
    n_decisions: int = 0             # current decisions (corrections applied) of patients in the cohort
    n_superseded: int = 0            # records replaced by a correction
    n_outside: int = 0               # current decisions about patients not in the cohort / registry
    n_no_followup: int = 0           # patients whose follow-up ended before their first decision
    adjusted_for: list = field(default_factory=list)       # covariate labels of the adjusted model
    # site, period, n, n_concordant, share, lower, upper
    concordance: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)      # one row per patient: time, event, decision
    km_medians: pd.DataFrame = field(default_factory=pd.DataFrame)    # om.kaplan_meier(...).medians by decision
    km_curves: pd.DataFrame = field(default_factory=pd.DataFrame)     # om.kaplan_meier(...).table by decision
    hazard_ratios: pd.DataFrame = field(default_factory=pd.DataFrame)  # model, hr, hr_lower, hr_upper, p, n, n_events
    notes: list = field(default_factory=list)                          # why a model could not be fitted


def wilson_interval(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes of n (R's ``prop.test(k, n, correct = FALSE)$conf.int``);
    NaN where n = 0."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    z = norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def current_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The records no correction replaced (a chain A <- B <- C leaves C)."""
    replaced = set(pd.to_numeric(decisions["corrects"], errors="coerce").dropna().astype(int))
    return decisions[~decisions["id"].astype(int).isin(replaced)]


def concordance_table(decisions: pd.DataFrame, period: str = "year") -> pd.DataFrame:
    """Share of concordant decisions per site and period (``year``: ``2024``; ``month``: ``2024-03``),
    then over all sites per period; ``decisions`` has ``site``, ``case_date`` and ``concordant``."""
    d = decisions.assign(period=pd.to_datetime(decisions["case_date"]).dt.strftime("%Y" if period == "year"
                                                                                     else "%Y-%m"),
                         concordant=decisions["concordant"].astype(bool))
    parts = [d.assign(site=d["site"].astype(str)), d.assign(site=ALL_SITES)]
    t = (pd.concat(parts).groupby(["site", "period"], sort=True)["concordant"]
         .agg(n="size", n_concordant="sum").reset_index())
    sites = [s for s in sorted(t["site"].unique()) if s != ALL_SITES] + [ALL_SITES]
    t["site"] = pd.Categorical(t["site"], sites)
    t = t.sort_values(["site", "period"]).reset_index(drop=True)
    t["site"] = t["site"].astype(str)
    t["n"], t["n_concordant"] = t["n"].astype(int), t["n_concordant"].astype(int)
    t["share"] = t["n_concordant"] / t["n"]
    t["lower"], t["upper"] = wilson_interval(t["n_concordant"], t["n"])
    return t[["site", "period", "n", "n_concordant", "share", "lower", "upper"]]


def outcome_frame(decisions: pd.DataFrame, patients: pd.DataFrame, unit: str = "months") -> pd.DataFrame:
    """One row per patient: the first current decision (earliest case date, then record id), and OS from
    its date: ``time`` to death or last contact (days, or months of 30.4375 days), ``event`` (death).
    Patients whose last contact precedes the decision are left out (``time`` < 0)."""
    first = (decisions.assign(case_date=pd.to_datetime(decisions["case_date"]))
             .sort_values(["case_date", "id"]).drop_duplicates("patient_id"))
    p = patients[["patient_id", "death_date", "last_contact_date"]].copy()
    p["patient_id"] = p["patient_id"].astype(str)
    d = first.assign(patient_id=first["patient_id"].astype(str)).merge(p, on="patient_id", how="inner")
    end = pd.to_datetime(d["death_date"]).fillna(pd.to_datetime(d["last_contact_date"]))
    days = (end - d["case_date"]).dt.days.astype(float)
    d["time"] = days / DAYS_PER_MONTH if unit == "months" else days
    d["event"] = pd.to_datetime(d["death_date"]).notna().astype(int)
    d["discordant"] = (~d["concordant"].astype(bool)).astype(int)
    d["decision"] = pd.Categorical(np.where(d["discordant"] == 1, DISCORDANT, CONCORDANT),
                                   [CONCORDANT, DISCORDANT])
    return d[d["time"].notna() & (d["time"] >= 0)].reset_index(drop=True)


def board_quality(decisions: pd.DataFrame, patients: pd.DataFrame, *, period: str = "year",
                  unit: str = "months", adjust: dict[str, str] | None = None) -> BoardQualityResult:
    """The board-quality analysis on plain frames.

    ``decisions``: the decision records (``id``, ``patient_id``, ``case_date``, ``concordant``,
    ``corrects``); ``patients``: one row per registry (or cohort) patient with ``patient_id``, ``site``,
    ``death_date``, ``last_contact_date`` and the adjustment columns; ``adjust``: Cox term -> label
    (e.g. ``{"age": "Age", "C(ecog)": "ECOG"}``) of the adjusted model. Decisions about patients not in
    ``patients`` are counted (``n_outside``) and left out.
    """
    missing = [c for c in DECISION_COLUMNS if c not in decisions.columns]
    if missing:
        raise ValueError(f"board decisions lack column(s) {', '.join(missing)} (the board_decisions table of "
                         f"'oligomet board decide')")
    adjust = adjust or {}
    current = current_decisions(decisions)
    known = patients.assign(patient_id=patients["patient_id"].astype(str)).drop_duplicates("patient_id")
    current = current.assign(patient_id=current["patient_id"].astype(str))
    inside = current[current["patient_id"].isin(known["patient_id"])]
    inside = inside.merge(known[["patient_id", "site"]], on="patient_id", how="left")
    numbers: dict = {"n_records": len(decisions), "n_superseded": int(len(decisions) - len(current)),
                     "n_decisions": len(inside), "n_outside": int(len(current) - len(inside))}
    concordance = concordance_table(inside, period) if len(inside) else pd.DataFrame(
        columns=["site", "period", "n", "n_concordant", "share", "lower", "upper"])
    numbers["concordance"] = {f"{r.site} {r.period}": {"n": r.n, "n_concordant": r.n_concordant, "share": r.share,
                                                       "lower": r.lower, "upper": r.upper}
                              for r in concordance.itertuples(index=False)}
    outcomes = outcome_frame(inside, known, unit) if len(inside) else pd.DataFrame(
        columns=["patient_id", "time", "event", "discordant", "decision"])
    n_patients = int(inside["patient_id"].nunique()) if len(inside) else 0
    notes, warnings_, hrs = [], [], []
    km_medians = km_curves = pd.DataFrame()
    if len(outcomes):
        km, w = quiet(om.kaplan_meier, outcomes, time="time", event="event", by="decision")
        warnings_ += [f"board quality KM: {x}" for x in w]
        km_medians, km_curves = km.medians, km.table
    groups = outcomes["decision"].value_counts() if len(outcomes) else pd.Series(dtype=int)
    if len(outcomes) and (groups > 0).sum() == 2 and outcomes["event"].sum() > 0:
        covars = known.drop(columns=[c for c in ("site", "death_date", "last_contact_date") if c in known])
        data = outcomes.merge(covars, on="patient_id", how="left", suffixes=("", "_registry"))
        models = [("crude", ["discordant"])] + ([("adjusted", ["discordant", *adjust])] if adjust else [])
        for model, terms in models:
            try:
                fit, w = quiet(om.cox, data, time="time", event="event", covariates=terms)
            except (ValueError, np.linalg.LinAlgError) as exc:
                notes.append(f"the {model} Cox model could not be fitted: {exc}")
                continue
            warnings_ += [f"board quality Cox ({model}): {x}" for x in w]
            s = fit.summary.loc["discordant"]
            hrs.append({"model": model, "hr": s["hr"], "hr_lower": s["hr_lower"], "hr_upper": s["hr_upper"],
                        "p": s["p"], "n": fit.n, "n_events": fit.n_events})
    elif len(outcomes):
        notes.append("no hazard ratio: it needs concordant and discordant decisions and at least one death")
    hazard_ratios = pd.DataFrame(hrs, columns=["model", "hr", "hr_lower", "hr_upper", "p", "n", "n_events"])
    numbers["n_no_followup"] = n_patients - len(outcomes)
    numbers["outcomes"] = {r["model"]: {k: r[k] for k in ("hr", "hr_lower", "hr_upper", "p", "n", "n_events")}
                           for r in hrs}
    numbers["medians"] = {str(r.group): {"n": r.n, "n_events": r.n_events, "median": r.median, "lower": r.lower,
                                         "upper": r.upper} for r in km_medians.itertuples(index=False)}
    return BoardQualityResult(
        numbers=clean(numbers), warnings=warnings_, period=period, unit=unit, n_decisions=numbers["n_decisions"],
        n_superseded=numbers["n_superseded"], n_outside=numbers["n_outside"],
        n_no_followup=numbers["n_no_followup"], adjusted_for=list(adjust.values()), concordance=concordance,
        outcomes=outcomes, km_medians=km_medians, km_curves=km_curves, hazard_ratios=hazard_ratios, notes=notes)


def read_decisions(url: str) -> pd.DataFrame:
    """The ``board_decisions`` table at ``url`` (read only; the study layer does not import the board)."""
    from ...registry.store import _normalise_url

    engine = sa.create_engine(_normalise_url(url))
    try:
        table = sa.Table("board_decisions", sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*[table.c[c] for c in DECISION_COLUMNS])).all()
    except sa.exc.NoSuchTableError:
        raise LookupError("has no board_decisions table: record decisions with 'oligomet board decide' "
                          "or the web app first") from None
    finally:
        engine.dispose()
    return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))


def compute_board_quality(ctx: Ctx) -> BoardQualityResult:
    a = ctx.proto.analyses.board_quality
    url = a.decisions or ctx.proto.data.url
    try:
        decisions = read_decisions(url)
    except (LookupError, sa.exc.SQLAlchemyError) as exc:
        where = ("analyses", "board_quality", "decisions") if a.decisions else ("data", "url")
        raise _err(ctx.proto, where, f"the database {url} {exc}") from None
    adjust = {ctx.term(c): ctx.proto.covariate(c).title for c in a.adjust}
    return board_quality(decisions, ctx.cohort, period=a.period, unit=ctx.unit, adjust=adjust)
