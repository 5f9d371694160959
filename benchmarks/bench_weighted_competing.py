"""Speed of the weighted competing-risks estimators against the R code they match, when Rscript is available.

    python benchmarks/bench_weighted_competing.py            # weighted CIF on 1e5 rows, weighted Fine-Gray on 1e4
    python benchmarks/bench_weighted_competing.py --no-r     # oligomet only

Data as ``bench_competing.py`` (times rounded to 3 decimals), with IPTW-like case weights from the
group's true propensity. Timed calls (best of ``--repeat`` in Python; R once):

* weighted CIF: ``cumulative_incidence(..., weights=)`` vs ``survfit(Surv(time, factor(event)) ~ group,
  weights = w)`` (both with standard errors: our O(n + T) infinitesimal jackknife, survfit's influence matrix);
* weighted Fine-Gray: ``fine_gray(..., weights=)`` (no expansion: cumulative sums over the risk sets) vs
  ``finegray()`` + ``coxph(..., weights = fgwt * w, cluster = id)`` (R: expansion and fit).

Wall and CPU seconds are printed (the machine is shared; CPU is the fairer figure).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import oligomet as om
from bench_competing import best_of, simulate

R_SCRIPT = r'''
suppressPackageStartupMessages(library(survival))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); f <- read.csv(args[2])
t1 <- system.time(fit <- survfit(Surv(time, factor(event)) ~ group, data = d, weights = w))
t2 <- system.time({
  f$ev <- factor(f$event, levels = 0:2)
  fg <- finegray(Surv(time, ev) ~ ., data = f[, c("id", "time", "ev", "w", "group", "x1")], etype = "1")
  m <- coxph(Surv(fgstart, fgstop, fgstatus) ~ group + x1, data = fg, weights = fgwt * w, cluster = id)
})
cat(sprintf("%f %f %f %f\n", t1[["elapsed"]], t1[["user.self"]] + t1[["sys.self"]],
            t2[["elapsed"]], t2[["user.self"]] + t2[["sys.self"]]))
'''


def with_weights(n: int, seed: int):
    d = simulate(n, seed=seed)
    ps = 1 / (1 + np.exp(-(0.5 * d["x1"] - 0.3 * d["x2"])))
    b = (d["group"] == "b").to_numpy()
    d["w"] = np.where(b, 1 / ps, 1 / (1 - ps)).round(6)
    d["id"] = np.arange(n)
    return d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-cif", type=int, default=100_000)
    ap.add_argument("--n-fg", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    a = ap.parse_args()
    d, f = with_weights(a.n_cif, 1), with_weights(a.n_fg, 2)
    om.cumulative_incidence(d.head(100), time="time", event="event", by="group", weights="w")   # imports
    cif = best_of(lambda: om.cumulative_incidence(d, time="time", event="event", by="group", weights="w"), a.repeat)
    fg = best_of(lambda: om.fine_gray(f, time="time", event="event", covariates=["group", "x1"], weights="w"),
                 a.repeat)
    print(f"weighted CIF, {a.n_cif:,} rows: oligomet wall {cif[0]:.3f} s, CPU {cif[1]:.3f} s")
    print(f"weighted Fine-Gray, {a.n_fg:,} rows: oligomet wall {fg[0]:.3f} s, CPU {fg[1]:.3f} s")
    if a.no_r or shutil.which("Rscript") is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "cif.csv", Path(tmp) / "fg.csv", Path(tmp) / "bench.R"]
        d.to_csv(paths[0], index=False)
        f.to_csv(paths[1], index=False)
        paths[2].write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(paths[2]), str(paths[0]), str(paths[1])], capture_output=True,
                             text=True, check=True).stdout.split()
    r = [float(x) for x in out]
    print(f"R survfit weighted multi-state: wall {r[0]:.3f} s, CPU {r[1]:.3f} s  (ratio R/oligomet CPU "
          f"{r[1] / cif[1]:.1f})")
    print(f"R finegray + weighted coxph: wall {r[2]:.3f} s, CPU {r[3]:.3f} s  (ratio R/oligomet CPU "
          f"{r[3] / fg[1]:.1f})")


if __name__ == "__main__":
    main()
