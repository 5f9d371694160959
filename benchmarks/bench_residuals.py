"""Benchmark: Cox residuals (every type) against the Cox fit itself, and R's ``residuals.coxph``, same run.

The target (issue 12) is residuals at 10⁶ × 10 within 2× of the fit. Same synthetic cohorts as
``bench_cox.py`` (integer-day times, heavy ties, Efron). For each size prints the fit's best wall-clock
time, each residual type's best time (the returned tidy DataFrame included) and its ratio to the fit;
with Rscript, R's ``coxph`` and ``residuals(fit, type)`` times on the same data, for sizes up to
``--r-max`` (default 10⁵: at 10⁶ R's residuals run for many minutes on the shared machine).

    python benchmarks/bench_residuals.py                  # 1e5 and 1e6, with R at 1e5 when available
    python benchmarks/bench_residuals.py --sizes 1e6 --no-r --continuous
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cox import COVS, best_of, make_data  # noqa: E402

TYPES = ("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas")


def time_r(d, workdir: str) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    csv = os.path.join(workdir, f"res_{len(d)}.csv")
    d.to_csv(csv, index=False)
    script = textwrap.dedent(f"""
        suppressPackageStartupMessages(library(survival))
        d <- read.csv("{csv}")
        tm <- system.time(fit <- coxph(Surv(time, event) ~ {' + '.join(COVS)}, data = d, ties = "efron"))
        cat("fit", tm[["elapsed"]], "\\n")
        for (ty in c({', '.join(repr(t) for t in TYPES)})) {{
          tm <- system.time(r <- residuals(fit, type = ty))
          cat(ty, tm[["elapsed"]], "\\n")
        }}
    """)
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, v in (line.split() for line in out.strip().splitlines())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["1e5", "1e6"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-max", type=float, default=1e5, help="largest size at which R is timed too")
    ap.add_argument("--continuous", action="store_true", help="continuous times (few ties) instead of days")
    args = ap.parse_args()
    import oligomet as om

    with tempfile.TemporaryDirectory() as workdir:
        for size in args.sizes:
            n = int(float(size))
            d = make_data(n, continuous=args.continuous)
            warm = om.cox(d.iloc[:2000], time="time", event="event", covariates=COVS)
            for ty in TYPES:                                   # compile/first-call costs outside the timing
                warm.residuals(ty)
            t_fit, _, fit, _ = best_of(lambda: om.cox(d, time="time", event="event", covariates=COVS), args.repeat)
            print(f"n = {n:,} x {len(COVS)}  ({'continuous' if args.continuous else 'integer days'}, "
                  f"{fit.n_events:,} events)", flush=True)
            r = None if args.no_r or n > args.r_max else time_r(d, workdir)
            print(f"  {'':12s} {'oligomet s':>11s} {'/ fit':>7s}" + (f" {'R s':>8s} {'R / ours':>9s}" if r else ""))
            fit_r = f" {r['fit']:8.2f} {r['fit'] / t_fit:9.1f}" if r else ""
            print(f"  {'cox fit':12s} {t_fit:11.3f} {1.0:7.2f}" + fit_r)
            for ty in TYPES:
                t, _, _, _ = best_of(lambda: fit.residuals(ty), args.repeat)
                line = f"  {ty:12s} {t:11.3f} {t / t_fit:7.2f}"
                if r:
                    line += f" {r[ty]:8.2f} {r[ty] / t:9.1f}"
                print(line, flush=True)


if __name__ == "__main__":
    main()
