#!/usr/bin/env python3
"""RMST and cumulative hazard (2 groups) on synthetic registry-like data: oligomet vs lifelines vs R,
with oligomet's own kaplan_meier timed in the same run as the yardstick ("as fast as kaplan_meier").

    python benchmarks/bench_rmst.py [--sizes 10000 100000 1000000] [--repeat 3] [--tau 1500] [--no-r]

Data: ``bench_km_logrank.make_data`` (integer-day times, thousands of ties, ~40% censored, two arms),
plus a fractional weight per row for the IPTW-style rows. Tasks (each per arm, both arms):

* KM        ``om.kaplan_meier``                       | R ``survfit``
* RMST      ``om.rmst(tau=)``                         | lifelines ``KaplanMeierFitter`` +
                                                        ``restricted_mean_survival_time(return_variance=True)``
                                                        | R ``summary(survfit(...), rmean = tau)$table``
* RMST-w    ``om.rmst(tau=, weights=)`` (IJ variance) | R the same with ``weights`` (Greenwood-type se)
* NA        ``om.cumulative_hazard(ctype=1)``         | lifelines ``NelsonAalenFitter`` | R ``survfit(ctype=1)``
* FH        ``om.cumulative_hazard(ctype=2)``         | R ``survfit(ctype=2)``

Best of ``--repeat`` wall-clock runs; R is timed inside R with ``system.time`` (reading the CSV is not
timed). Ratios > 1 mean oligomet is faster; the "vs KM" column is oligomet's time for the task over its
own kaplan_meier time. The script also prints the RMSTs from the three tools, which must agree.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from bench_km_logrank import best_of, make_data

import oligomet as om


def with_weights(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(w=np.random.default_rng(3).uniform(0.5, 3.0, len(d)).round(3))


def oligomet_tasks(d: pd.DataFrame, tau: float) -> dict:
    kw = dict(time="time", event="status", by="arm")
    return {
        "KM": lambda: om.kaplan_meier(d, **kw),
        "RMST": lambda: om.rmst(d, tau=tau, **kw),
        "RMST-w": lambda: om.rmst(d, tau=tau, weights="w", **kw),
        "NA": lambda: om.cumulative_hazard(d, ctype=1, **kw),
        "FH": lambda: om.cumulative_hazard(d, ctype=2, **kw),
    }


def time_lifelines(d: pd.DataFrame, tau: float, repeat: int) -> tuple[dict, list]:
    try:
        from lifelines import KaplanMeierFitter, NelsonAalenFitter
        from lifelines.utils import restricted_mean_survival_time
    except ImportError:
        return {}, []
    arms = [s for _, s in d.groupby("arm")]

    def rmst():
        return [restricted_mean_survival_time(KaplanMeierFitter().fit(s["time"], s["status"]), t=tau,
                                              return_variance=True) for s in arms]

    def na():
        return [NelsonAalenFitter().fit(s["time"], s["status"]) for s in arms]

    t_rmst, res = best_of(rmst, repeat)
    t_km, _ = best_of(lambda: [KaplanMeierFitter().fit(s["time"], s["status"]) for s in arms], repeat)
    t_na, _ = best_of(na, repeat)
    return {"KM": t_km, "RMST": t_rmst, "NA": t_na}, [float(m) for m, _ in res]


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(TRUE); d <- read.csv(args[1]); rep <- as.integer(args[2]); tau <- as.numeric(args[3])
best <- function(expr) {
  e <- substitute(expr)
  min(sapply(seq_len(rep), function(i) system.time(eval(e))[["elapsed"]]))
}
t_km <- best(survfit(Surv(time, status) ~ arm, data = d))
t_rmst <- best(summary(survfit(Surv(time, status) ~ arm, data = d), rmean = tau)$table)
t_rmstw <- best(summary(survfit(Surv(time, status) ~ arm, data = d, weights = w), rmean = tau)$table)
t_na <- best(survfit(Surv(time, status) ~ arm, data = d, ctype = 1))
t_fh <- best(survfit(Surv(time, status) ~ arm, data = d, ctype = 2))
m <- summary(survfit(Surv(time, status) ~ arm, data = d), rmean = tau)$table[, "rmean"]
cat(t_km, t_rmst, t_rmstw, t_na, t_fh, format(m, digits = 15), "\n")
"""


def time_r(d: pd.DataFrame, tau: float, repeat: int) -> tuple[dict, list]:
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "bench.R"
        d.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(csv), str(repeat), str(tau)], capture_output=True,
                             text=True, check=True).stdout.split()
    t = [float(x) for x in out[:5]]
    return dict(zip(("KM", "RMST", "RMST-w", "NA", "FH"), t)), [float(x) for x in out[5:]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tau", type=float, default=1500.0)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    have_r = shutil.which("Rscript") is not None and not a.no_r
    for f in oligomet_tasks(with_weights(make_data(1000)), a.tau).values():
        f()  # warm up imports
    nan = float("nan")
    print(f"{'n':>9} {'task':<7} {'oligomet s':>11} {'vs KM':>6} {'lifelines s':>12} {'ratio':>6} {'R s':>8} "
          f"{'ratio':>6}")
    for n in a.sizes:
        d = with_weights(make_data(n))
        ours = {}
        for task, f in oligomet_tasks(d, a.tau).items():
            ours[task], res = best_of(f, a.repeat)
            if task == "RMST":
                our_rmst = res.table["rmst"].tolist()
        life, life_rmst = time_lifelines(d, a.tau, a.repeat)
        r, r_rmst = time_r(d, a.tau, a.repeat) if have_r else ({}, [])
        for task, t in ours.items():
            lt, rt = life.get(task, nan), r.get(task, nan)
            print(f"{n:>9} {task:<7} {t:>11.4f} {t / ours['KM']:>6.2f} {lt:>12.4f} {lt / t:>6.1f} {rt:>8.3f} "
                  f"{rt / t:>6.1f}")
        print(f"{'':>9} RMST up to {a.tau:g}: oligomet {np.round(our_rmst, 6).tolist()}, "
              f"lifelines {np.round(life_rmst, 6).tolist()}, R {np.round(r_rmst, 6).tolist()}")


if __name__ == "__main__":
    main()
