"""Optimal matching against a brute-force optimum, and subclassification invariants.

MatchIt's optimal matching calls optmatch, which Debian does not package, so the pairs are checked by
what defines them: no other assignment of controls has a smaller total distance."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.matching.optimal import optimal_match, total_distance


def brute_force_total(dist, t, ratio):
    tr, cr = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    slots = np.repeat(tr, ratio)
    best = np.inf
    for perm in itertools.permutations(cr, min(len(slots), len(cr))):
        best = min(best, float(np.abs(dist[slots[:len(perm)]] - dist[list(perm)]).sum()))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_optimal_total_distance_is_the_brute_force_minimum(seed):
    rng = np.random.default_rng(seed)
    ratio = 1 + seed % 2
    n1 = 2 + seed % 2
    n0 = n1 * ratio + seed % 3
    dist = np.round(rng.random(n1 + n0), 1 if seed % 4 == 0 else 6)  # some cases full of ties
    t = np.array([1] * n1 + [0] * n0)
    mm, reasons = optimal_match(dist, t, ratio, None, np.ones(len(t), bool))
    assert not reasons
    used = mm[mm >= 0]
    assert len(used) == len(set(used)) == n1 * ratio  # every slot filled, no control twice
    assert total_distance(mm, dist) == pytest.approx(brute_force_total(dist, t, ratio), abs=1e-12)


def test_optimal_beats_greedy_and_respects_exact_strata():
    rng = np.random.default_rng(7)
    n = 600
    d = pd.DataFrame({"age": rng.normal(65, 9, n), "ecog": rng.integers(0, 3, n), "site": rng.integers(0, 3, n)})
    d["treated"] = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 0.04 * (d.age - 65))))).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = om.match(d, treatment="treated", covariates=["age", "ecog"], method="optimal", exact="site")
        greedy = om.match(d, treatment="treated", covariates=["age", "ecog"], exact="site")

    def total(m):
        return float((m.distance.loc[m.pairs.treated].to_numpy() - m.distance.loc[m.pairs.control].to_numpy())
                     .__abs__().sum())

    assert len(opt.pairs) == len(greedy.pairs)
    assert total(opt) <= total(greedy) + 1e-12
    assert (d.loc[opt.pairs.treated, "site"].to_numpy() == d.loc[opt.pairs.control, "site"].to_numpy()).all()
    assert opt.pairs.control.is_unique


def test_optimal_with_too_few_controls_reports_the_unmatched():
    dist = np.array([0.1, 0.5, 0.9, 0.45, 0.2])
    t = np.array([1, 1, 1, 0, 0])
    mm, reasons = optimal_match(dist, t, 1, None, np.ones(5, bool))
    assert sorted(mm[mm >= 0].tolist()) == [3, 4]
    assert reasons == {2: "no control left"}  # 0.9 is the unit whose best assignment leaves it out


def test_subclass_weights_reproduce_the_treated_counts():
    """ATT subclass weights make each subclass's controls weigh as much as its treated units."""
    rng = np.random.default_rng(3)
    n = 500
    d = pd.DataFrame({"x": rng.normal(size=n), "z": rng.integers(0, 2, n)})
    d["treated"] = (rng.random(n) < 1 / (1 + np.exp(-d.x))).astype(int)
    m = om.match(d, treatment="treated", covariates=["x", "z"], method="subclass", subclass=5)
    md = m.matched_data
    per = md.groupby(["subclass", "treated"])["weights"].sum().unstack()
    ratio = per[0] / per[1]
    np.testing.assert_allclose(ratio, ratio.iloc[0])  # the same factor in every subclass (normalisation)
    assert set(md.subclass) == {1, 2, 3, 4, 5}
    assert m.pairs.empty
