"""Every public result renders in Jupyter as its tidy tables: ``_repr_html_`` shows the class, each named
table with its columns and values, and the named scalars."""
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load


@pytest.fixture(scope="module")
def colon():
    c = load("colon")
    return c[c.etype == 2].dropna(subset=["nodes"])


@pytest.fixture(scope="module")
def mgus():
    m = load("mgus2")
    m = m.assign(etime=m.ptime.where(m.pstat == 1, m.futime),
                 cause=(m.pstat + 2 * m.death * (1 - m.pstat)).astype(int))
    return m.dropna(subset=["hgb"])


def _results(colon, mgus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        surg = colon.assign(treat=(colon.rx != "Obs").astype(int))
        miss = colon[["time", "status", "age", "nodes"]].copy()
        miss.loc[miss.index[::4], "nodes"] = np.nan
        imp = om.impute(miss, m=2, seed=1, maxit=2, time="time", event="status")
        return {
            "kaplan_meier": om.kaplan_meier(colon, time="time", event="status", by="rx"),
            "logrank": om.logrank(colon, time="time", event="status", by="rx"),
            "cox": om.cox(colon, time="time", event="status", covariates=["age", "nodes"]),
            "rmst": om.rmst(colon, time="time", event="status", by="rx", tau=1500),
            "cumulative_hazard": om.cumulative_hazard(colon, time="time", event="status"),
            "cumulative_incidence": om.cumulative_incidence(mgus, time="etime", event="cause", by="sex"),
            "fine_gray": om.fine_gray(mgus, time="etime", event="cause", covariates=["age", "hgb"], cause=1),
            "match": om.match(surg, treatment="treat", covariates=["age", "nodes"]),
            "weight": om.weight(surg, treatment="treat", covariates=["age", "nodes"]),
            "table_one": om.table_one(colon, by="rx", variables=["age", "sex"]),
            "impute": imp,
            "pool_cox": om.pool_cox(imp, time="time", event="status", covariates=["age", "nodes"]),
        }


def test_every_result_renders_its_tables(colon, mgus):
    for name, result in _results(colon, mgus).items():
        html = result._repr_html_()
        assert f"<strong>{type(result).__name__}</strong>" in html, name
        assert result._html_tables, name
        for attr in result._html_tables:
            assert f".{attr}" in html, (name, attr)
            value = getattr(result, attr)
            if isinstance(value, pd.DataFrame) and len(value.columns):
                assert str(value.columns[0]) in html, (name, attr)


def test_values_are_the_results_own(colon, mgus):
    lr = om.logrank(colon, time="time", event="status", by="rx")
    assert f"{lr.statistic:.6g}" in lr._repr_html_()
    km = om.kaplan_meier(colon, time="time", event="status", by="rx")
    assert f"{km.medians['median'].iloc[0]:.6g}" in km._repr_html_()


def test_long_tables_are_cut_for_the_notebook(colon):
    km = om.kaplan_meier(colon, time="time", event="status")
    assert len(km.table) > 20
    assert km._repr_html_().count("<tr") < 60     # medians + at most 20 rows of the curve, not all
