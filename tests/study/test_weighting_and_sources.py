"""Propensity weighting path, and a registry folder as the data source (read + validated)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import oligomet as om
from oligomet import registry as reg
from oligomet.study import StudyError, run_study
from oligomet.study.cohort import GROUP
from oligomet.study.protocol_source import loads

PROTO = """title = "Weighted"
name = "weighted"
seed = 3
[data]
{data}
[origin]
type = "index_treatment"
index_modalities = ["rfa", "mwa"]
[[cohort.include]]
column = "primary_site"
equals = "colorectal"
[[cohort.include]]
column = "index_modality"
in = ["rfa", "mwa"]
[exposure]
[[exposure.groups]]
name = "Upfront"
where = [{{ column = "neoadjuvant", equals = false }}]
[[exposure.groups]]
name = "Delayed"
where = [{{ column = "neoadjuvant", equals = true }}]
[[endpoints]]
name = "os"
[[covariates]]
column = "age"
[[covariates]]
column = "ecog"
[analyses.propensity]
method = "weight"
estimand = "ATE"
covariates = ["age", "ecog"]
endpoints = ["os"]
landmarks = [36]
[analyses.table_one]
variables = ["age", "ecog"]
"""


def test_weighted_outcomes_equal_direct_calls(registry):
    proto = loads(PROTO.format(data="synthetic = { n_patients = 10 }"), "toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(proto, tables=registry)
        c = study.cohort.copy()
        c["_t"] = (c[GROUP] == "Delayed").astype(int)
        w = om.weight(c, treatment="_t", covariates=["age", "ecog"], estimand="ATE")
        fit = om.cox(w.data, time="os_time", event="os_event", covariates=["C(exposure, ref='Upfront')"],
                     weights="weights", robust=True)
        km = om.kaplan_meier(w.data, time="os_time", event="os_event", by=GROUP, weights="weights")
    got = study.results.numbers["propensity"]
    assert got["method"] == "weight"
    assert got["outcomes"]["os"]["cox"]["hr"] == pytest.approx(fit.summary["hr"].iloc[0], rel=1e-12)
    assert got["outcomes"]["os"]["cox"]["robust_se"] == pytest.approx(fit.summary["robust_se"].iloc[0], rel=1e-12)
    at = km.at([36])
    for g in ("Upfront", "Delayed"):
        assert got["outcomes"]["os"]["km"][g]["landmarks"]["36"]["survival"] == pytest.approx(
            at.loc[at["group"] == g, "survival"].iloc[0], rel=1e-12)
    assert {e["group"] for e in got["ess"]} == {"control", "treated"}
    # Table 1 before and after weighting, the latter weighted (no p-values)
    t1 = study.results.numbers["table_one"]
    assert set(t1) == {"before", "after"}
    direct = om.table_one(w.data, by=GROUP, variables=["age", "ecog"], weights="weights")
    after = {(r["variable"], r["group"]): r for r in t1["after"]}
    for r in direct.table.to_dict(orient="records"):
        for k, v in r.items():
            if isinstance(v, float) and np.isfinite(v):
                assert after[(r["variable"], r["group"])][k] == pytest.approx(v, rel=1e-12)


def test_folder_source_is_read_and_validated(registry, tmp_path):
    folder = reg.write_registry(registry, tmp_path / "reg")
    proto_path = tmp_path / "study.toml"
    proto_path.write_text(PROTO.format(data='folder = "reg"'))  # relative to the protocol file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(proto_path, out=tmp_path / "out")
        in_memory = run_study(loads(PROTO.format(data="synthetic = { n_patients = 10 }"), "toml"), tables=registry)
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["provenance"]["data_source"] == "folder"
    assert res["numbers"]["propensity"] == json.loads(json.dumps(in_memory.results.numbers["propensity"]))
    # a broken registry folder stops the run with the validation problems
    pts = (folder / "patients.csv").read_text().splitlines()
    pts[1] = pts[1].replace("colorectal", "colon", 1)
    (folder / "patients.csv").write_text("\n".join(pts) + "\n")
    with pytest.raises(StudyError, match="validation error"):
        run_study(proto_path)


def test_database_source(registry, tmp_path):
    """``url`` reads the registry from the store (SQLite here); same numbers as in memory."""
    small = {k: v for k, v in registry.items()}
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with reg.Store(url) as store:
        result = store.import_registry(small)
        assert result.status != "rejected", result
    proto = PROTO.format(data=f'url = "{url}"')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_db = run_study(loads(proto, "toml"))
        in_memory = run_study(loads(PROTO.format(data="synthetic = { n_patients = 10 }"), "toml"), tables=registry)
    assert len(from_db.cohort) == len(in_memory.cohort)
    assert from_db.results.numbers["propensity"]["outcomes"] == in_memory.results.numbers["propensity"]["outcomes"]


def test_ratio_two_matching_uses_matching_weights(registry):
    text = PROTO.format(data="synthetic = { n_patients = 10 }").replace(
        'method = "weight"\nestimand = "ATE"', 'method = "match"\nratio = 2\ncaliper = 0.5')
    assert "ratio = 2" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(loads(text, "toml"), tables=registry)
        c = study.cohort.copy()
        c["_t"] = (c[GROUP] == "Delayed").astype(int)
        m = om.match(c, treatment="_t", covariates=["age", "ecog"], caliper=0.5, ratio=2)
        md = m.matched_data
        assert not np.allclose(md["weights"], 1.0)  # controls share their treated unit's weight
        fit = om.cox(md, time="os_time", event="os_event", covariates=["C(exposure, ref='Upfront')"],
                     weights="weights", cluster="subclass", robust=True)
    got = study.results.numbers["propensity"]["outcomes"]["os"]
    assert got["cox"]["hr"] == pytest.approx(fit.summary["hr"].iloc[0], rel=1e-12)
    assert got["cox"]["robust_se"] == pytest.approx(fit.summary["robust_se"].iloc[0], rel=1e-12)
    assert "logrank" not in got  # survdiff takes no weights: not reported for non-unit weights


def test_workbook_source(tmp_path):
    from oligomet.datasets import synthetic_registry

    small = synthetic_registry(300, seed=2)
    reg.write_registry(small, tmp_path / "registry.xlsx", format="excel")
    text = ('title = "t"\nname = "t"\n[data]\nworkbook = "registry.xlsx"\n[[endpoints]]\nname = "os"\n'
            '[analyses.km]\nendpoints = ["os"]\n')
    (tmp_path / "s.toml").write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_book = run_study(tmp_path / "s.toml")
        in_memory = run_study(loads(text.replace('workbook = "registry.xlsx"', "synthetic = { n_patients = 1 }"),
                                    "toml"), tables=small)
    assert from_book.results.provenance["data_source"] == "workbook"
    assert from_book.results.numbers["km"] == in_memory.results.numbers["km"]
