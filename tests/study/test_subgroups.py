"""Subgroup results equal direct Cox fits within each level; a `where` split works like a column."""
from __future__ import annotations

import warnings

import pytest

import oligomet as om
from oligomet.study import run_study
from oligomet.study.protocol import loads

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def early(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(EXAMPLES / "crlm_early_recurrence.yaml", tables=registry)


def test_level_hrs_equal_direct_fits(early):
    c = early.cohort
    got = early.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]["levels"]
    for level, value in (("yes", 1.0), ("no", 0.0)):
        part = c[c["recurrence_le_4m"] == value]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = om.cox(part, time="os_time", event="os_event",
                         covariates=["C(exposure, ref='Systemic therapy alone')", "age", "ecog"])
        row = fit.summary.iloc[0]
        assert got[level]["hr"] == pytest.approx(row["hr"], rel=1e-12)
        assert got[level]["p"] == pytest.approx(row["p"], rel=1e-12)
        assert got[level]["n"] == fit.n


def test_where_split_equals_column_split(registry, early):
    text = (EXAMPLES / "crlm_early_recurrence.yaml").read_text().replace(
        "      column: recurrence_le_4m\n",
        "      where: [{column: recurrence_months, max: 4}]\n")
    assert "recurrence_months, max: 4" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = run_study(loads(text, "yaml"), tables=registry)
    a = early.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]
    b = other.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]
    assert a["interaction"] == b["interaction"]
    assert a["levels"]["yes"]["hr"] == b["levels"]["yes"]["hr"]
