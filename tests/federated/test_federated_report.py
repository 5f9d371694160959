"""The federated run writes the pooled run's report: the demo protocol run both ways over the 7 synthetic
sites, every number of both results.json compared; the secure sum of the complications table."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oligomet.datasets import synthetic_registry
from oligomet.federated.secure_sum import MODULUS, mask, unmask

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from oligomet.federated.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    tables = synthetic_registry(5000, seed=20240601)
    r = run_demo(tables, out, EXAMPLES, {"data_source": "synthetic",
                                         "synthetic": {"n_patients": 5000, "seed": 20240601, "n_sites": 7}})
    return out, r


def test_same_sections_and_files(demo):
    out, r = demo
    pooled, fed = r["pooled"], r["federated"]
    assert [(s.key, s.title) for s in fed.sections] == [(s.key, s.title) for s in pooled.sections]
    # every table and figure of the pooled report, but Table 1 after weighting (listed as left out)
    assert [t.name for t in fed.tables] == [t.name for t in pooled.tables
                                            if not t.title.startswith("Patient characteristics after")]
    assert [f.name for f in fed.figures] == [f.name for f in pooled.figures]
    name = fed.name
    for folder in (f"{name}_pooled", f"{name}_federated"):
        for f in ("report.html", "report.docx", "results.json"):
            assert (out / folder / f).is_file(), (folder, f)
    html = (out / f"{name}_federated" / "report.html").read_text(encoding="utf-8")
    assert "was federated" in html and all(s in html for s in r["result"]["sites"])
    assert "summed securely" in html and "Not available in a federated run" in html
    assert json.loads((out / f"{name}_federated" / "results.json").read_text())["numbers"]["federated"]["sites"] \
        == r["result"]["sites"]


def test_numbers_agree(demo):
    out, r = demo
    t = r["table"].set_index(["analysis", "quantity"])
    exact = t[~t["bounded"] & (t["compared"] > 0)]
    assert exact["compared"].sum() > 500
    assert r["max_abs_diff"] <= 1e-8            # Cox and propensity at 1e-8
    for analysis in ("km", "logrank", "followup", "cohort", "complications"):
        assert exact.loc[analysis, "max_abs_diff"].max() <= 1e-10, analysis
    assert (exact.loc["complications", "max_abs_diff"] == 0).all()   # counts by secure sum: exact
    assert exact["texts_differing"].drop(index="table_one", level=0).sum() == 0
    # what the federated run cannot compute is listed, not silently equal
    assert t.loc[("cox", "concordance"), "pooled_only"] > 0
    assert (out / "comparison.html").is_file() and "Pooled vs federated" in (out / "comparison.html").read_text()


def test_secure_sum_shares_cancel_only_over_the_whole_ring():
    ring = ["A", "B", "C"]
    counts = {"A": [3, 0, 120], "B": [1, 7, 80], "C": [0, 2, 95]}
    shares = {s: mask(c, "key", "nonce-1", ring, s) for s, c in counts.items()}
    assert unmask(list(shares.values())) == [4, 9, 295]
    assert all(0 <= x < MODULUS for v in shares.values() for x in v)
    assert shares["A"] != counts["A"] and shares["A"] != mask(counts["A"], "key", "nonce-2", ring, "A")
    assert unmask([shares["A"], shares["B"]]) != [4, 9, 295 - 95]   # a missing site: the masks do not cancel
    assert np.mean([mask([1], "key", f"n{i}", ring, "A")[0] < MODULUS // 2 for i in range(400)]) == \
        pytest.approx(0.5, abs=0.1)                                  # a share is uniform, whatever the count


def test_same_checks(demo):
    """The Checks panel: the same checks, passed or not alike, on the same numbers (the overlap share by
    secure sum, the complete cases, events per parameter, balance, effective sample sizes, group sizes)."""
    _, r = demo
    pooled = [(c.name, c.passed) for c in r["pooled"].checks]
    fed = [(c.name, c.passed) for c in r["federated"].checks]
    assert fed == pooled and ("overlap", True) in fed
    for a, b in zip(r["pooled"].checks, r["federated"].checks):
        for k, v in a.values.items():
            if isinstance(v, float):
                assert b.values[k] == pytest.approx(v, abs=1e-10), (a.name, k)
