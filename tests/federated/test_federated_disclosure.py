"""Disclosure control: the privacy-preserving mode's messages, small-cell refusal, and the sites' logs."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from oligomet import registry
from oligomet.datasets.synthetic import write_registry
from oligomet.federated import central
from oligomet.federated.disclosure import SmallCell, check_message_counts, grid_times
from oligomet.federated.mock import run_mock, split_by_site

from federated_sites import protocol_text, site_configs

TERMS = ["exposure", "age", "ecog", "ras"]
PLAN = {"km": [{"endpoint": "os"}, {"endpoint": "pfs"}, {"endpoint": "lr", "causes": [1, 2]}],
        "table_one": {"variables": ["age", "ecog", "ras", "synchronous", "neoadjuvant"], "bin_width": {}},
        # the propensity model, then overlap weights: balance, weighted per-time tables, weighted Cox + sandwich
        "propensity": {"endpoint": "os", "covariates": ["age", "ecog", "ras"], "treated": "Repeat local treatment",
                       "estimand": "ATO", "outcomes": ["os"], "exposure_term": "C(exposure, ref='Systemic therapy "
                                                                                "alone')"},
        # complications by secure sum (masked shares), and a Table-1-style report Cox model with selection
        "complications": {"binaries": ["cd_grade_3plus", "death_90d"], "secure": True},
        "cox_models": [{"endpoint": "pfs", "variables": ["exposure", "age"], "selection": "all", "threshold": 0.1,
                        "fixed": [], "ties": "efron",
                        "terms": {"exposure": "C(exposure, ref='Systemic therapy alone')", "age": "age"}}],
        "cox": [{"endpoint": "os", "terms": TERMS}, {"endpoint": "os", "terms": TERMS, "baseline": "shared"}]}


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    """The demo study in the default (privacy-preserving) mode: time grid of 1 month, minimum count 5."""
    configs = site_configs(tmp_path_factory.mktemp("private"), federation_key="a secret the sites share")
    out, messages = run_mock(protocol_text(), "yaml", configs, PLAN)
    return configs, out, messages


def _numbers(x):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from ((k, n) for _, n in _numbers(v)) if not isinstance(v, (int, float)) else [(k, v)]
    elif isinstance(x, list):
        for v in x:
            yield from _numbers(v)


def test_no_message_holds_a_small_count_or_a_row(private_run, pooled):
    configs, out, messages = private_run
    assert len(out["sites"]) == 7
    # the only refusals: Table 1 variables a site withholds for a cell under 5 and the overlap check's count of
    # patients outside the common support (named), none elsewhere
    assert all((r["step"].startswith("table_one ") or r["step"] == "overlap check") and
               "minimum cell count of 5" in r["reason"] for r in out["refused"])
    assert "propensity" in out and "coef" in out["propensity"] and all("summary" in c for c in out["cox"])
    assert "summary" in out["weighting"]["cox"]["os"] and out["weighting"]["cox"]["os"]["robust_var"] is not None
    assert "summary" in out["cox_models"]["pfs"]["multivariable"]
    (complications,) = out["complications"].values()
    assert complications["groups"]["All"]["n"] == sum(m["n"] for m in out["cohort"].values())
    assert any("balance" in m for m in messages) and any("masked" in m for m in messages) and \
        any("gram" in m for m in messages) and any("w_dead" in m for m in messages)
    assert len(messages) >= 7 * 10
    cohort = pooled[0]
    exact_times = set(np.round(cohort["os_time"].dropna(), 12)) | set(np.round(cohort["pfs_time"].dropna(), 12))
    smallest_site = min(m["n"] for m in out["cohort"].values())
    for m in messages:
        assert check_message_counts(m, 5) == [], m.get("site")
        text = json.dumps(m)
        assert "SYN-" not in text and "patient_id" not in text and "date" not in text
        for masked in m.get("masked", []):   # a secure-sum share: uniform on [0, 2^62), no count readable
            assert masked >= 5 or masked == 0
        for key, value in _numbers(m):
            if key == "time":   # every time on the declared grid, none an exact time of a patient
                assert float(value).is_integer(), value
                assert round(float(value), 12) not in exact_times or float(value).is_integer()

        def lists(x):
            if isinstance(x, dict):
                for v in x.values():
                    yield from lists(v)
            elif isinstance(x, list):
                yield x
                for v in x:
                    yield from lists(v)

        # no per-patient vector: every list is far shorter than the smallest site's cohort
        assert all(len(v) < smallest_site for v in lists(m) if v and not isinstance(v[0], list)), m.get("site")


def test_privacy_mode_never_emits_an_exact_event_time(private_run, pooled):
    _, out, _ = private_run
    cohort = pooled[0]
    for ep in ("os", "pfs"):
        exact = set(cohort.loc[cohort[f"{ep}_event"] == 1, f"{ep}_time"].astype(float))
        exact = {t for t in exact if not float(t).is_integer()}
        for m in out["km"][ep].values():
            for b in m["blocks"]:
                assert all(float(t).is_integer() for t in b["time"])
                assert not exact & set(b["time"])
                assert all(x == 0 or x >= 5 for x in b["events"]) and all(x >= 5 for x in b["leaving"])


def test_privacy_mode_cost_is_small_and_stated(private_run, pooled):
    """Grid mode vs exact: times only move later (rounded up, then merged forward until a cell holds >= 5
    events), so medians never come earlier; on the demo they move by 1.5 and 9.6 months (docs/federated.md):
    small sites' sparse tails are merged over long spans."""
    _, out, _ = private_run
    groups = ["Systemic therapy alone", "Repeat local treatment"]
    grid = central.kaplan_meier(out["km"]["os"], groups=groups).medians.set_index("group")["median"]
    d = pooled[0].dropna(subset=["os_time"])
    import oligomet as om
    ref = om.kaplan_meier(d.assign(g=pd.Categorical(d.exposure_group.astype(str), categories=groups)),
                          time="os_time", event="os_event", by="g").medians.set_index("group")["median"]
    assert (grid.to_numpy() >= ref.to_numpy()).all()        # times rounded up: never earlier
    assert (grid.to_numpy() - ref.to_numpy() < 12).all()


def test_each_site_logs_every_message_it_sent(private_run):
    configs, out, messages = private_run
    for cfg in configs:
        site = yaml.safe_load(cfg.read_text())["site"]
        logged = [json.loads(line)["message"] for line in (cfg.parent / "messages.jsonl").read_text().splitlines()]
        sent = [m for m in messages if m.get("site") == site]
        assert logged == sent and len(sent) >= 7


def test_grid_cells_hold_zero_or_at_least_k():
    rng = np.random.default_rng(7)
    t = rng.exponential(20, 400)
    e = (rng.random(400) < 0.6).astype(float)
    g = grid_times(t, e, 1.0, 5, "test")
    assert (g >= np.ceil(t) - 1e-12).all()
    for u in np.unique(g):
        assert u.is_integer()
        d, c = e[g == u].sum(), (1 - e[g == u]).sum()
        assert (d == 0 or d >= 5) and d + c >= 5
    with pytest.raises(SmallCell):
        grid_times(t[:8], np.array([1, 1, 1, 0, 0, 0, 0, 0.0]), 1.0, 5, "group 'x'")   # 3 events in all


def test_check_message_counts_finds_small_counts():
    assert check_message_counts({"blocks": [{"events": [0, 3, 7], "n": 12}]}, 5) == [".blocks[0].events[1]=3"]


def test_site_with_three_patients_in_a_group_is_refused_and_named(exact_sites, pooled, tmp_path):
    cohort = pooled[0]
    site = "Site G (synthetic)"
    local = cohort[(cohort.site == site) & (cohort.exposure_group.astype(str) == "Repeat local treatment")]
    drop = set(local["patient_id"].iloc[3:])
    configs = []
    for cfg in exact_sites:
        d = tmp_path / cfg.parent.name
        d.mkdir()
        shutil.copy(cfg, d / "node.yaml")
        conf = yaml.safe_load(cfg.read_text())
        if conf["site"] == site:
            tables, _ = registry.read_registry(cfg.parent / "registry")
            tables["patients"] = tables["patients"][~tables["patients"]["patient_id"].isin(drop)]
            (tables,) = split_by_site(tables).values()     # every table restricted to the kept patients
            write_registry(tables, d / "registry")
        else:
            (d / "registry").symlink_to(cfg.parent / "registry")
        configs.append(d / "node.yaml")
    out, messages = run_mock(protocol_text(), "yaml", configs, {"km": [{"endpoint": "os", "exact": True}]})
    assert [r["site"] for r in out["refused"]] == [site]
    reason = out["refused"][0]["reason"]
    assert re.search(r"Repeat local treatment.*between 1 and 4 patients.*minimum cell count of 5", reason)
    assert "3" not in reason   # the refusal names the site and the group, not the small count
    assert site not in out["sites"] and len(out["sites"]) == 6 and site not in out["km"]["os"]
    flow = central.combine_flow(out["cohort"])
    assert flow["n_remaining"].iloc[-1] == (cohort.site != site).sum()
