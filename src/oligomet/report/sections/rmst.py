"""Restricted mean survival time: one table per endpoint (groups, then contrasts) and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import StudyResults, ci, lower_first, p_text, p_value
from ..tables import ReportTable

_MEASURE = {"difference": "Difference", "ratio": "Ratio", "rmtl_ratio": "Ratio of restricted mean time lost"}


def build_rmst(doc: StudyResults, r) -> None:
    """``r``: ``tau``, ``unit``, ``weighted``, ``variance`` and ``endpoints`` (each: ``name``, ``title``,
    ``table`` and ``contrasts`` of ``om.rmst``)."""
    unit = r.unit
    for e in r.endpoints:
        sec = doc.section(f"rmst_{e.name}", f"{e.title}: restricted mean survival time to {r.tau:g} {unit}")
        rows = [{"": str(g["group"]), f"RMST, {unit} (95% CI)": ci(g["rmst"], g["lower"], g["upper"], 1),
                 "SE": f"{g['std_err']:.2f}", "p": ""} for g in e.table.to_dict("records")]
        rows += [{"": f"{_MEASURE[c['measure']]}: {c['group']} vs {c['reference']}",
                  # a difference can be negative: "-2.4 (-3.8 to -0.9)" reads better than with a dash
                  f"RMST, {unit} (95% CI)": (ci(c["estimate"], c["lower"], c["upper"], 1, sep=" to ")
                                             if c["measure"] == "difference" else
                                             ci(c["estimate"], c["lower"], c["upper"], 2)),
                  "SE": f"{c['std_err']:.3f}", "p": p_value(c["p"])} for c in e.contrasts.to_dict("records")]
        tidy = pd.concat([e.table.assign(kind="group"), e.contrasts.assign(kind="contrast")], ignore_index=True)
        sec.items.append(ReportTable(
            f"rmst_{e.name}", f"{e.title}: restricted mean survival time up to {r.tau:g} {unit}", tidy,
            pd.DataFrame(rows),
            note=("IPTW-weighted Kaplan–Meier curves; infinitesimal-jackknife (robust) variance. " if r.weighted
                  else "Area under the Kaplan–Meier curve (R's print(survfit, rmean = tau)); Greenwood-type SE. ")
            + "Difference and ratio as survRM2's rmst2 (ratio SE on the log scale)."))
        for c in e.contrasts[e.contrasts["measure"] == "difference"].to_dict("records"):
            doc.results_text.append(
                f"Up to {r.tau:g} {unit}, the restricted mean {lower_first(e.title)} time was "
                f"{_rmst_of(e.table, c['group'])} {unit} for {c['group']} and {_rmst_of(e.table, c['reference'])} "
                f"{unit} for {c['reference']} "
                f"(difference {ci(c['estimate'], c['lower'], c['upper'], 1, sep=' to ')} {unit}, "
                f"{p_text(c['p'])}{', IPTW-weighted' if r.weighted else ''}).")
        if e.contrasts.empty:
            g = e.table.iloc[0]
            doc.results_text.append(f"The restricted mean {lower_first(e.title)} time up to {r.tau:g} {unit} was "
                                    f"{ci(g['rmst'], g['lower'], g['upper'], 1)} {unit}.")
    doc.methods.append(
        f"Restricted mean survival time (RMST) up to {r.tau:g} {unit} was estimated as the area under the "
        + ("inverse-probability-of-treatment-weighted Kaplan–Meier curve, with an infinitesimal-jackknife variance"
           if r.weighted else "Kaplan–Meier curve, with a Greenwood-type variance")
        + "; groups were compared by the RMST difference and ratio (Uno et al. 2014, as survRM2's rmst2).")


def _rmst_of(table: pd.DataFrame, group) -> str:
    return f"{table.loc[table['group'].astype(str) == str(group), 'rmst'].iloc[0]:.1f}"
