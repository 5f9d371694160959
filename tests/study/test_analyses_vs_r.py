"""Study-level statistics not covered by the estimator layers, against R (tests/reference/study)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from oligomet.datasets import load
from oligomet.study.analyses.paired import mcnemar
from oligomet.study.analyses.subgroups import SUB, interaction_test
from oligomet.study.cohort import GROUP


def test_interaction_lr_test_matches_r_anova(r_fixtures):
    ref = r_fixtures["interaction"]
    d = load("lung")
    d = d[d["ph.ecog"].notna() & d["age"].notna()].reset_index(drop=True)
    d["event"] = (d["status"] == 2).astype(int)
    d[GROUP] = pd.Categorical(np.where(d["sex"] == 2, "female", "male"), categories=["male", "female"])
    d[SUB] = np.where(d["ph.ecog"] >= 1, "ecog 1+", "ecog 0")
    lr, df, p = interaction_test(d, "time", "event", ["age"])
    assert len(d) == ref["n"]
    assert df == ref["df"]
    assert lr == pytest.approx(ref["statistic"], rel=1e-6)
    assert p == pytest.approx(ref["p"], rel=1e-6)


def test_mcnemar_matches_r(r_fixtures):
    ref = r_fixtures["mcnemar"]
    stat, b, c, p = mcnemar(np.array(ref["before"], bool), np.array(ref["after"], bool))
    assert stat == pytest.approx(ref["statistic"], rel=1e-12) and p == pytest.approx(ref["p"], rel=1e-10)
    # hand check of the discordant pairs: (|b - c| - 1)^2 / (b + c)
    assert stat == (abs(b - c) - 1) ** 2 / (b + c)


@pytest.mark.parametrize("case", ["wilcoxon_small", "wilcoxon_large"])
def test_wilcoxon_signed_rank_matches_r(r_fixtures, case, tmp_path):
    """The paired analysis (via a protocol-free call of its core) gives R's V and p."""
    from oligomet.study.analyses import paired
    from oligomet.study.protocol import PairedAnalysis

    ref = r_fixtures[case]
    cohort = pd.DataFrame({"x": ref["x"], "y": ref["y"]})

    class P:  # the two attributes compute_paired reads
        class analyses:
            paired = [PairedAnalysis(name="xy", before="x", after="y", test="wilcoxon")]

    class Ctx:
        proto = P

    Ctx.cohort = cohort
    got = paired.compute_paired(Ctx).numbers["xy"]
    assert got["statistic"] == pytest.approx(ref["statistic"], rel=1e-12)
    assert got["p"] == pytest.approx(ref["p"], rel=1e-6)


def test_fisher_used_for_complications_matches_r(r_fixtures):
    ref = r_fixtures["fisher"]
    tab = np.array(ref["table"]).reshape(2, 2)
    assert stats.fisher_exact(tab)[1] == pytest.approx(ref["p"], rel=1e-10)
