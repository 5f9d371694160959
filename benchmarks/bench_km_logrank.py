#!/usr/bin/env python3
"""Kaplan-Meier (2 groups) and log-rank on synthetic registry-like data: oligomet vs lifelines vs R.

    python benchmarks/bench_km_logrank.py [--sizes 10000 100000 1000000] [--repeat 3] [--no-r]

Data: integer-day times (exponential, median ~2 years, so thousands of ties), about
40% censored, two arms. Each tool is timed on the same rows; the best of ``--repeat``
runs is reported (wall clock). lifelines: ``KaplanMeierFitter`` fitted per arm and
``logrank_test``. R: ``survfit(Surv(time, status) ~ arm)`` and ``survdiff``, timed inside
R with ``system.time`` (reading the CSV is not timed). Ratios > 1 mean oligomet is faster.
The script also checks that the three give the same log-rank statistic.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import oligomet as om


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "treated"], n)
    event_time = rng.exponential(np.where(arm == "treated", 1000.0, 800.0))
    censor_time = rng.uniform(0, 3650, n)
    time_ = np.ceil(np.minimum(event_time, censor_time)).astype(np.int64)
    status = (event_time <= censor_time).astype(np.int64)
    return pd.DataFrame({"time": time_, "status": status, "arm": arm})


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_oligomet(d):
    km = om.kaplan_meier(d, time="time", event="status", by="arm")
    lr = om.logrank(d, time="time", event="status", by="arm")
    return km, lr


def time_lifelines(d: pd.DataFrame, repeat: int):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    def km():
        return [KaplanMeierFitter().fit(s["time"], s["status"]) for _, s in d.groupby("arm")]

    a = (d["arm"] == "control").to_numpy()

    def lr():
        return logrank_test(d["time"][a], d["time"][~a], d["status"][a], d["status"][~a])

    t_km, _ = best_of(km, repeat)
    t_lr, res = best_of(lr, repeat)
    return t_km, t_lr, float(res.test_statistic)


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(TRUE); d <- read.csv(args[1]); rep <- as.integer(args[2])
best <- function(expr) {
  e <- substitute(expr)
  min(sapply(seq_len(rep), function(i) system.time(eval(e))[["elapsed"]]))
}
t_km <- best(survfit(Surv(time, status) ~ arm, data = d))
t_lr <- best(survdiff(Surv(time, status) ~ arm, data = d))
cat(t_km, t_lr, format(survdiff(Surv(time, status) ~ arm, data = d)$chisq, digits = 15), "\n")
"""


def time_r(d: pd.DataFrame, repeat: int):
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "bench.R"
        d.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv), str(repeat)], capture_output=True, text=True,
                             check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    have_r = shutil.which("Rscript") is not None and not a.no_r
    run_oligomet(make_data(1000))  # warm up imports
    print(f"{'n':>9} {'task':<8} {'oligomet s':>11} {'lifelines s':>12} {'ratio':>6} {'R s':>8} {'ratio':>6}")
    for n in a.sizes:
        d = make_data(n)
        t_km, _ = best_of(lambda: om.kaplan_meier(d, time="time", event="status", by="arm"), a.repeat)
        t_lr, lr = best_of(lambda: om.logrank(d, time="time", event="status", by="arm"), a.repeat)
        l_km, l_lr, l_chi = time_lifelines(d, a.repeat)
        r_km = r_lr = r_chi = float("nan")
        if have_r:
            r_km, r_lr, r_chi = time_r(d, a.repeat)
        for task, ours, life, r in (("KM", t_km, l_km, r_km), ("logrank", t_lr, l_lr, r_lr)):
            print(f"{n:>9} {task:<8} {ours:>11.4f} {life:>12.4f} {life / ours:>6.1f} {r:>8.3f} {r / ours:>6.1f}")
        print(f"{'':>9} chi-square: oligomet {lr.statistic:.6f}, lifelines {l_chi:.6f}, R {r_chi:.6f}")


if __name__ == "__main__":
    main()
