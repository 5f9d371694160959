"""The demo's federated study: one protocol run pooled and federated over the 7 synthetic sites, both
reports side by side, and a comparison page showing that their numbers agree.

The demo protocol is ``examples/crlm_early_recurrence.yaml`` made federable: its data source is the
sites' dataset name, its Cox models are complete-case without the PH check (multiple imputation and
``cox.zph`` need patient rows at one place), its subgroup analyses are left out, and it adds
overlap-weighting on the propensity score and the complications table. Each site is a registry folder
with a ``node.yaml`` allowing exact per-time tables, so the federated numbers equal the pooled ones.
"""
from __future__ import annotations

import html
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATASET = "oligomet-registry"
NAME = "crlm_early_recurrence_federated"


def demo_protocol_text(examples: Path) -> str:
    text = (examples / "crlm_early_recurrence.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  synthetic: .*$", f"  url: {DATASET}", text)
    text = re.sub(r"(?m)^name: .*$", f"name: {NAME}", text)
    text = re.sub(r'(?m)^title: "(.*)"$', r'title: "\1 (federated demo)"', text)
    text = re.sub(r"(?m)^    missing: \{impute.*\n", "", text)
    text = re.sub(r"(?ms)^  subgroups:\n.*", "", text)
    return text.rstrip() + """
    ph_check: false
  complications: {}
  propensity:
    method: weight
    estimand: ATO
    covariates: [age, ecog, ras, n_lesions, synchronous]
    endpoints: [os, pfs]
    landmarks: [12, 24]
"""


def _leaves(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, path + (str(k),))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _leaves(v, path + (str(i),))
    else:
        yield path, x


def _quantity(path: tuple) -> str:
    """A leaf's quantity: its last key that is not an index, group, site or term name."""
    for k in reversed(path):
        if not k.isdigit() and k[:1].islower() and " " not in k and "[" not in k:
            return k
    return path[-1]


def _keyed(x):
    """Lists of records (Table 1 rows, balance rows, flow steps) keyed by their identifying fields, so that the
    comparison pairs the same row of both runs whatever their order."""
    if isinstance(x, dict):
        return {k: _keyed(v) for k, v in x.items()}
    if isinstance(x, list) and x and all(isinstance(v, dict) for v in x):
        ids = [k for k in ("variable", "level", "group", "covariate", "step", "label") if k in x[0]]
        if ids:
            return {" | ".join(str(v.get(k)) for k in ids): _keyed({k: w for k, w in v.items() if k != "index"})
                    for v in x}
    if isinstance(x, list):
        return [_keyed(v) for v in x]
    return x


BOUNDED = {("table_one", "median"), ("table_one", "q1"), ("table_one", "q3")}


def compare_numbers(pooled: dict, federated: dict) -> pd.DataFrame:
    """Per analysis and quantity: numbers compared and their largest absolute difference, texts (labels, test
    names, formatted cells) that differ, and the values present in the pooled run only (e.g. the
    concordance, which the federated run does not compute). ``bounded``: Table 1 medians and quartiles, which
    the federated run bounds from histograms (see docs/federated.md)."""
    fed = dict(_leaves(_keyed(federated)))
    rows = {}
    for path, a in _leaves(_keyed(pooled)):
        key = (path[0], _quantity(path))
        r = rows.setdefault(key, {"analysis": path[0], "quantity": key[1], "compared": 0, "max_abs_diff": 0.0,
                                  "texts_differing": 0, "pooled_only": 0, "bounded": key in BOUNDED})
        b = fed.get(path)
        if b is None and a is not None:
            r["pooled_only"] += 1
            continue
        r["compared"] += 1
        if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
            if np.isfinite(a) or np.isfinite(b):
                r["max_abs_diff"] = max(r["max_abs_diff"], abs(float(a) - float(b)))
        elif a != b:
            r["texts_differing"] += 1
    out = pd.DataFrame(list(rows.values()))
    return out[(out["compared"] > 0) | (out["pooled_only"] > 0)].reset_index(drop=True)


def write_comparison(table: pd.DataFrame, out: Path, pooled_href: str, federated_href: str, seconds: dict) -> Path:
    """``comparison.html``: the table above, with links to both reports."""
    rows = "".join(
        f"<tr><td>{html.escape(r.analysis)}</td><td>{html.escape(r.quantity)}</td><td>{r.compared}</td>"
        f"<td>{r.max_abs_diff:.3g}{' (bounded)' if r.bounded else ''}</td><td>{r.texts_differing or ''}</td>"
        f"<td>{r.pooled_only or ''}</td></tr>" for r in table.itertuples())
    exact = table[~table["bounded"] & (table["compared"] > 0)]
    bounded = table[table["bounded"]]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pooled vs federated</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:2px 8px;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>Pooled vs federated: the same study, the same numbers</h1>
<p>The protocol ran twice on the 7-site synthetic registry: <a href="{pooled_href}">pooled</a> (every row at one
place, {seconds['pooled']:.1f} s) and <a href="{federated_href}">federated</a> (vantage6 mock network, one node per
site folder, only aggregates leaving a site, {seconds['federated']:.1f} s). Every number of the two reports'
<code>results.json</code> is compared. Largest absolute difference over the {int(exact['compared'].sum())} values the
federated run computes exactly: <b>{exact['max_abs_diff'].max():.2g}</b>. Table 1 medians and quartiles, bounded
from the sites' histograms, differ by at most {bounded['max_abs_diff'].max() if len(bounded) else 0:.2g}.</p>
<p>"Texts differing" counts formatted cells that differ (Table 1 cells holding those medians). "Pooled only"
counts what a federated run cannot give without patient rows at one place (the Cox models' concordance, the CCI
quantiles and test, the eCDF balance statistics, Table 1 after weighting).</p>
<table><tr><th>analysis</th><th>quantity</th><th>values compared</th><th>max abs difference</th>
<th>texts differing</th><th>pooled only</th></tr>{rows}</table></body></html>"""
    path = out / "comparison.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_demo(tables: dict, out: Path, examples: Path, source: dict) -> dict:
    """Pooled and federated runs of the demo protocol; reports in ``out/<name>_pooled`` and
    ``out/<name>_federated``, the site folders in ``out/federated_sites``, ``out/comparison.html``."""
    from ..report.html import write_report
    from ..study import run_study
    from ..study.protocol_source import loads
    from .mock import run_mock, write_sites
    from .report import federated_results, report_plan

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = demo_protocol_text(examples)
    proto = loads(text, "yaml")
    t0 = time.perf_counter()
    pooled = run_study(proto, out=out / f"{NAME}_pooled", tables=tables, source=source)
    t1 = time.perf_counter()
    import secrets

    configs = write_sites(tables, out / "federated_sites", dataset=DATASET, exact_times=True,
                          federation_key=secrets.token_hex(16))
    result, messages = run_mock(text, "yaml", configs, report_plan(proto, exact=True))
    res = federated_results(proto, result, True, source=source)
    write_report(res, out / f"{NAME}_federated")
    t2 = time.perf_counter()
    table = compare_numbers(pooled.results.numbers, res.numbers)
    seconds = {"pooled": t1 - t0, "federated": t2 - t1}
    page = write_comparison(table, out, f"{NAME}_pooled/report.html", f"{NAME}_federated/report.html", seconds)
    table.to_csv(out / "comparison.csv", index=False)
    exact = table[~table["bounded"] & (table["compared"] > 0)]
    return {"title": proto.title, "comparison": page, "table": table, "seconds": seconds,
            "max_abs_diff": float(exact["max_abs_diff"].max()), "messages": messages, "result": result,
            "pooled": pooled.results, "federated": res}


def demo_entries(tables, out: Path, examples: Path, patients: int, seed: int, bar, task) -> list[dict]:
    """``oligomet demo``'s index entries for :func:`run_demo` (none without the federated extra), advancing its
    progress bar."""
    try:
        import vantage6.algorithm.tools  # noqa: F401
    except ImportError:   # the federated extra is not installed (Python < 3.13)
        return []
    bar.update(task, description="federated study (7 sites)")
    r = run_demo(tables, out, examples, {"data_source": "synthetic",
                                         "synthetic": {"n_patients": patients, "seed": seed, "n_sites": 7}})
    bar.advance(task)
    name = r["federated"].name
    return [{"title": r["title"], "href": f"{out.name}/{name}_federated/report.html",
             "summary": f"Federated over {len(r['result']['sites'])} sites with vantage6's mock network: only "
                        f"aggregates left each site ({r['result']['ledger']['bytes_from_sites']:,} bytes)."},
            {"title": "Pooled vs federated: the same numbers", "href": f"{out.name}/comparison.html",
             "summary": f"Every number of the pooled and the federated report compared: largest difference "
                        f"{r['max_abs_diff']:.1g} ({r['seconds']['federated']:.0f} s federated, "
                        f"{r['seconds']['pooled']:.0f} s pooled)."}]
