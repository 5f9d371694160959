"""The demo protocols on the registry's newer fields: the salvage study's planned vs performed resection
extent (paired tests) and the ablation study's drug-related CTCAE grade >= 3 adverse events per group."""
from __future__ import annotations

import warnings

import numpy as np
from pytest import approx
from scipy import stats

from oligomet.study import run_study
from oligomet.study.cohort import GROUP

from .conftest import EXAMPLES


def test_salvage_example_compares_the_extent_assessed_before_sabr_with_the_one_performed(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(EXAMPLES / "salvage_after_sabr.toml", tables=registry)
    c = study.cohort
    got = study.results.numbers["paired"]
    pairs = c[["first_local_assessed_extent_step", "index_resection_extent_step"]].dropna().astype(float)
    before, after = pairs.iloc[:, 0].to_numpy(), pairs.iloc[:, 1].to_numpy()
    steps = got["extent_steps"]
    assert steps["n"] == len(pairs) > 20 and steps["test"] == "Wilcoxon signed-rank"
    assert steps["p"] == approx(stats.wilcoxon(before, after, correction=True).pvalue)
    assert steps["median_after"] > steps["median_before"] and steps["p"] < 0.05   # built into the data
    # McNemar on "segmentectomy or more", the discordant pairs counted by hand
    b = int(np.sum((before >= 2) & (after < 2)))
    k = int(np.sum((before < 2) & (after >= 2)))
    ana = got["anatomical_resection"]
    assert (ana["discordant_before_only"], ana["discordant_after_only"]) == (b, k) and k > b
    assert ana["statistic"] == approx((abs(b - k) - 1) ** 2 / (b + k))
    # intra-operative adhesions at the salvage resection, beside its complications
    adh = c["index_extensive_adhesions"].dropna().astype(bool)
    assert study.results.numbers["complications"]["All"]["index_extensive_adhesions"] == {
        "n": int(adh.sum()), "n_known": len(adh), "rate": approx(adh.mean())}


def test_ablation_example_reports_drug_related_ctcae_grade_3_per_group(ablation_run):
    study, results = ablation_run
    c = study.cohort
    got = results["numbers"]["complications"]
    col = "ctcae_3plus_drug_related"
    groups = [n for n in got if n not in ("All", "tests")]
    assert len(groups) == 2
    table = []
    for name in groups:
        part = c.loc[c[GROUP] == name, col].dropna().astype(bool)
        assert got[name][col] == {"n": int(part.sum()), "n_known": len(part), "rate": approx(part.mean())}
        table.append([int(part.sum()), int((~part).sum())])
    assert got["tests"][col]["test"] == "Fisher"
    assert got["tests"][col]["p"] == approx(stats.fisher_exact(np.array(table))[1])
