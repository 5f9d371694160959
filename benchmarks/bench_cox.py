"""Benchmark: oligomet.cox (Efron) against lifelines' CoxPHFitter and R's coxph, same data, same run.

Synthetic cohorts of n = 10^4, 10^5, 10^6 rows × 10 covariates, integer-day follow-up (many ties:
a few thousand distinct times), ~80 % events. Prints wall-clock seconds (best of ``--repeat`` runs for
oligomet and lifelines, plus each one's first run; one run of R), the ratios, the largest coefficient difference between
the three, and peak memory of the oligomet fit measured in a fresh subprocess.

    python benchmarks/bench_cox.py                 # all sizes, lifelines and R when available
    python benchmarks/bench_cox.py --sizes 1e5 --no-r

R is timed inside R (``system.time`` around ``coxph`` only; the CSV is written once and read before).
Times are wall-clock on whatever else the machine is doing: compare the ratios of one run. CPU seconds
(``time.process_time``, all threads of the process; R's user + system) are printed too, since on a shared
machine they are steadier than wall-clock time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
import pandas as pd

P = 10
COVS = [f"x{i}" for i in range(P)]


def make_data(n: int, seed: int = 2024, continuous: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.normal(size=(n, 6)),
        rng.integers(0, 2, size=(n, 2)).astype(float),       # binary
        rng.integers(20, 90, size=(n, 1)).astype(float),     # age-like integers
        rng.gamma(2.0, 1.0, size=(n, 1)),
    ])
    beta = np.array([0.3, -0.2, 0.1, 0.0, 0.05, -0.15, 0.4, -0.3, 0.01, 0.1])
    lp = X @ beta - 0.65
    t_event = rng.exponential(365.0 * np.exp(-lp))
    t_cens = rng.uniform(30, 5 * 365, n)
    time_ = np.minimum(t_event, t_cens)
    if not continuous:
        time_ = np.ceil(time_)                                 # integer days: heavy ties
    event = (t_event <= t_cens).astype(np.int64)
    d = pd.DataFrame(X, columns=COVS)
    d["time"] = time_
    d["event"] = event
    return d


def best_of(fn, repeat: int):
    """Best wall-clock time of ``repeat`` runs, with the CPU time (all threads) of that run, and the wall
    time of the first run (which also pays first-touch memory costs; both tools are treated alike)."""
    best, cpu, out, first = np.inf, np.nan, None, None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
        first = wall if first is None else first
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu, out, first


def time_oligomet(d: pd.DataFrame, repeat: int):
    import oligomet as om
    om.cox(d.iloc[:2000], time="time", event="event", covariates=COVS)   # warm-up: imports, first-call costs
    return best_of(lambda: om.cox(d, time="time", event="event", covariates=COVS, ties="efron"), repeat)


def time_lifelines(d: pd.DataFrame, repeat: int):
    try:
        from lifelines import CoxPHFitter
    except ImportError:
        return None, None, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = d[COVS + ["time", "event"]]
        CoxPHFitter().fit(frame.iloc[:2000], duration_col="time", event_col="event")
        best, cpu, cph, first = best_of(lambda: CoxPHFitter().fit(frame, duration_col="time", event_col="event"),
                                        repeat)
        return best, cpu, cph.params_.reindex(COVS).to_numpy(), first


def time_r(d: pd.DataFrame, workdir: str):
    if shutil.which("Rscript") is None:
        return None, None, None
    csv = os.path.join(workdir, f"cox_{len(d)}.csv")
    d.to_csv(csv, index=False)
    script = textwrap.dedent(f"""
        suppressPackageStartupMessages(library(survival))
        d <- read.csv("{csv}")
        tm <- system.time(fit <- coxph(Surv(time, event) ~ {' + '.join(COVS)}, data = d, ties = "efron"))
        cat(sprintf("%.17g", c(tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]], coef(fit))), sep = "\\n")
    """)
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), np.array([float(v) for v in out[2:]])


_PEAK_CHILD = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    sys.path.insert(0, {bench_dir!r})
    from bench_cox import make_data, COVS
    import oligomet as om
    d = make_data({n}, continuous={continuous})
    om.cox(d.iloc[:1000], time="time", event="event", covariates=COVS)   # imports outside the measurement
    import gc, os
    gc.collect()
    with open("/proc/self/statm") as fh:                 # current resident set, before the fit
        rss_now = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    tracemalloc.start()
    fit = om.cox(d, time="time", event="event", covariates=COVS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # peak during the fit ~ resident data before it + the fit's own peak allocations (tracemalloc sees
    # NumPy's buffers); ru_maxrss is the process high-water mark, which data generation may have set
    print(json.dumps({{"traced_peak_mb": peak / 2**20, "rss_before_fit_mb": rss_now,
                      "fit_peak_estimate_mb": rss_now + peak / 2**20, "maxrss_mb": rss / 1024}}))
""")


def peak_memory(n: int, continuous: bool = False) -> dict:
    code = _PEAK_CHILD.format(bench_dir=os.path.dirname(os.path.abspath(__file__)), n=n, continuous=continuous)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["1e4", "1e5", "1e6"])
    ap.add_argument("--repeat", type=int, default=3, help="runs per size for oligomet and lifelines (best is reported)")
    ap.add_argument("--no-lifelines", action="store_true")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--continuous", action="store_true",
                    help="continuous times (almost no ties) instead of integer days; lifelines is very slow here")
    a = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in a.sizes:
            n = int(float(s))
            d = make_data(n, continuous=a.continuous)
            t_om, cpu_om, fit, first_om = time_oligomet(d, a.repeat)
            row = {"n": n, "distinct_times": int(d["time"].nunique()), "events": int(d["event"].sum()),
                   "oligomet_s": t_om, "oligomet_cpu_s": cpu_om, "oligomet_first_s": first_om,
                   "iterations": fit.iterations}
            coef = fit.summary["coef"].to_numpy()
            if not a.no_lifelines:
                t_ll, cpu_ll, c_ll, first_ll = time_lifelines(d, a.repeat)
                if t_ll is not None:
                    row.update(lifelines_s=t_ll, lifelines_cpu_s=cpu_ll, lifelines_ratio=t_ll / t_om,
                               lifelines_first_s=first_ll, lifelines_first_ratio=first_ll / first_om,
                               lifelines_cpu_ratio=cpu_ll / cpu_om,
                               max_abs_coef_diff_lifelines=float(np.max(np.abs(c_ll - coef))))
            if not a.no_r:
                t_r, cpu_r, c_r = time_r(d, tmp)
                if t_r is not None:
                    row.update(r_s=t_r, r_cpu_s=cpu_r, r_ratio=t_r / t_om, r_cpu_ratio=cpu_r / cpu_om,
                               max_abs_coef_diff_r=float(np.max(np.abs(c_r - coef))))
            if not a.no_memory:
                row.update(peak_memory(n, a.continuous))
            rows.append(row)
            print(json.dumps(row), flush=True)

    table = pd.DataFrame(rows).set_index("n")
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format):
        print(table.T.to_string())
    for n, r in table.iterrows():
        parts = [f"n={n:>8}: oligomet {r['oligomet_s']:.3f} s (cpu {r['oligomet_cpu_s']:.3f})"]
        if "lifelines_s" in r and pd.notna(r.get("lifelines_s")):
            parts.append(f"lifelines {r['lifelines_s']:.3f} s ({r['lifelines_ratio']:.1f}x; cpu "
                         f"{r['lifelines_cpu_s']:.3f}, {r['lifelines_cpu_ratio']:.1f}x; first runs "
                         f"{r['oligomet_first_s']:.3f} vs {r['lifelines_first_s']:.3f} s, "
                         f"{r['lifelines_first_ratio']:.1f}x)")
        if "r_s" in r and pd.notna(r.get("r_s")):
            parts.append(f"R {r['r_s']:.3f} s ({r['r_ratio']:.1f}x; cpu {r['r_cpu_s']:.3f}, {r['r_cpu_ratio']:.1f}x)")
        if "maxrss_mb" in r and pd.notna(r.get("maxrss_mb")):
            parts.append(f"memory: data {r['rss_before_fit_mb']:.0f} MB + fit peak {r['traced_peak_mb']:.0f} MB "
                         f"= {r['fit_peak_estimate_mb']:.0f} MB (process high-water mark {r['maxrss_mb']:.0f} MB)")
        print(", ".join(parts))


if __name__ == "__main__":
    main()
