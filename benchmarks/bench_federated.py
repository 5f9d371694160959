"""Federated vs pooled: the demo study (crlm_early_recurrence) on a synthetic registry split over 7 sites.

    python benchmarks/bench_federated.py [--patients 100000] [--mode exact|private] [--study models|report]

``--study models`` (default): KM/log-rank of OS and PFS, Cox of OS stratified by site and with a shared
baseline. ``--study report``: the demo's whole federated report study (``federated/demo.py``: cohort,
Table 1, follow-up, KM, log-rank, complications by secure sum, the Cox screen/selection/multivariable
models of OS and PFS, overlap weighting with weighted KM and Cox), against ``run_study`` on the pooled rows,
with every number of both results compared.

The federated run uses vantage6's mock network (every site in this process, one after the other, so
the wall time is the sum of the sites' work plus the centre's, not the parallel time of a real network).
It reports wall times, the number of requests and the bytes exchanged (JSON, both ways) against the
bytes a pooled analysis would have to move (the sites' registry folders).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

EXAMPLE = Path(__file__).parents[1] / "examples" / "crlm_early_recurrence.yaml"
TERMS = ["exposure", "age", "ecog", "ras", "n_lesions", "synchronous"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--mode", choices=["exact", "private"], default="exact")
    ap.add_argument("--study", choices=["models", "report"], default="models")
    args = ap.parse_args()
    logging.disable(logging.INFO)
    if args.study == "report":
        return report_study(args.patients, args.mode == "exact")

    import oligomet as om
    from oligomet import registry
    from oligomet.datasets import synthetic_registry
    from oligomet.federated import central
    from oligomet.federated.mock import run_mock, write_sites
    from oligomet.study import cohort as C
    from oligomet.study.protocol_source import loads
    from oligomet.study.run import _prepare_covariates

    exact = args.mode == "exact"
    text = EXAMPLE.read_text().replace("synthetic: {n_patients: 5000, seed: 20240601}", "url: bench")
    proto = loads(text, "yaml")
    root = Path(tempfile.mkdtemp(prefix="bench_fed_"))
    t0 = time.perf_counter()
    configs = write_sites(synthetic_registry(args.patients, seed=20240601), root, dataset="bench",
                          exact_times=exact, log=None)
    t_prep = time.perf_counter() - t0
    registry_bytes = sum(f.stat().st_size for f in root.rglob("*.csv"))

    plan = {"km": [{"endpoint": "os", "exact": exact}, {"endpoint": "pfs", "exact": exact}],
            "cox": [{"endpoint": "os", "terms": TERMS, "exact": exact},
                    {"endpoint": "os", "terms": TERMS, "exact": exact, "baseline": "shared"}]}
    t0 = time.perf_counter()
    out, messages = run_mock(text, "yaml", configs, plan)
    groups = [g.name for g in proto.exposure.groups]
    km = central.kaplan_meier(out["km"]["os"], groups=groups)
    lr = central.logrank(out["km"]["os"], groups=groups)
    t_fed = time.perf_counter() - t0

    t0 = time.perf_counter()
    parts = [registry.read_registry(c.parent / "registry")[0] for c in configs]
    tables = {n: pd.concat([p[n] for p in parts], ignore_index=True) for n in parts[0]}
    cand, rows, done = C.prefilter(tables, proto)
    frame = _prepare_covariates(C.analysis_frame(cand, proto), proto)
    cohort, flow = C.apply_cohort(frame, proto, rows=rows, skip=done)
    cohort, flow = C.assign_groups(cohort, flow, proto)
    e = cohort.dropna(subset=["os_time", "os_event"])
    pkm = om.kaplan_meier(e.assign(g=pd.Categorical(e.exposure_group.astype(str), categories=groups)),
                          time="os_time", event="os_event", by="g")
    plr = om.logrank(e.assign(g=pd.Categorical(e.exposure_group.astype(str), categories=groups)),
                     time="os_time", event="os_event", by="g")
    d = e.dropna(subset=["age", "ecog", "ras", "n_lesions", "synchronous"])
    om.cox(d, time="os_time", event="os_event", covariates=TERMS, strata="site")
    pcox = om.cox(d, time="os_time", event="os_event", covariates=TERMS)
    t_pool = time.perf_counter() - t0

    fed_cox = pd.DataFrame(out["cox"][1]["summary"]).set_index("term")["coef"]
    led = out["ledger"]
    print(f"registry: {args.patients} patients over {len(configs)} sites ({registry_bytes / 1e6:.1f} MB of CSV; "
          f"written in {t_prep:.1f} s); cohort {len(cohort)}; mode {args.mode}")
    print(f"federated (mock, sequential): {t_fed:.1f} s, {led['requests']} requests, "
          f"{led['bytes_to_sites'] / 1e6:.2f} MB to the sites, {led['bytes_from_sites'] / 1e6:.2f} MB back")
    print(f"pooled (read the 7 registries, same analyses): {t_pool:.1f} s; moving the rows = "
          f"{registry_bytes / 1e6:.1f} MB")
    print(f"ratio federated/pooled wall time: {t_fed / t_pool:.1f}")
    print(f"max |coef diff| shared-baseline Cox: {float((fed_cox - pcox.summary['coef']).abs().max()):.2e}; "
          f"log-rank chi2 fed {lr.statistic:.6f} vs pooled {plr.statistic:.6f}; KM medians equal: "
          f"{km.medians['median'].tolist() == pkm.medians['median'].tolist()}")


def report_study(patients: int, exact: bool) -> None:
    from oligomet import registry
    from oligomet.datasets import synthetic_registry
    from oligomet.federated.demo import DATASET, compare_numbers, demo_protocol_text
    from oligomet.federated.mock import run_mock, write_sites
    from oligomet.federated.report import federated_results, report_plan
    from oligomet.study import run_study
    from oligomet.study.protocol_source import loads

    text = demo_protocol_text(EXAMPLE.parent)
    proto = loads(text, "yaml")
    root = Path(tempfile.mkdtemp(prefix="bench_fed_report_"))
    configs = write_sites(synthetic_registry(patients, seed=20240601), root, dataset=DATASET, exact_times=exact,
                          federation_key="bench", log=None)
    registry_bytes = sum(f.stat().st_size for f in root.rglob("*.csv"))
    t0 = time.perf_counter()
    out, _ = run_mock(text, "yaml", configs, report_plan(proto, exact=exact))
    res = federated_results(proto, out, exact)
    t_fed = time.perf_counter() - t0
    t0 = time.perf_counter()
    parts = [registry.read_registry(c.parent / "registry")[0] for c in configs]
    tables = {n: pd.concat([p[n] for p in parts if p.get(n) is not None], ignore_index=True) for n in parts[0]}
    pooled = run_study(proto, tables=tables)
    t_pool = time.perf_counter() - t0
    cmp = compare_numbers(pooled.results.numbers, res.numbers)
    exact_rows = cmp[~cmp["bounded"] & (cmp["compared"] > 0)]
    led = out["ledger"]
    print(f"report study, {patients} patients over {len(configs)} sites, cohort {len(pooled.cohort)}, "
          f"mode {'exact' if exact else 'private'}")
    print(f"federated (mock, sequential, incl. reading the 7 registry folders): {t_fed:.1f} s, "
          f"{led['requests']} requests, {led['bytes_to_sites'] / 1e6:.2f} MB to the sites, "
          f"{led['bytes_from_sites'] / 1e6:.2f} MB back")
    print(f"pooled run_study (read the 7 registries, same analyses): {t_pool:.1f} s; moving the rows = "
          f"{registry_bytes / 1e6:.1f} MB; ratio federated/pooled {t_fed / t_pool:.1f}")
    print(f"numbers compared: {int(exact_rows['compared'].sum())}, largest |difference| "
          f"{exact_rows['max_abs_diff'].max():.2e}; per analysis:")
    print(exact_rows.groupby("analysis")["max_abs_diff"].max().to_string())


if __name__ == "__main__":
    main()
