"""Analyses computed ahead, in the report's worker processes, while this process runs the others.

Why: after the cohort is built, a study's analyses are independent computations on it, except that the
propensity step sets the adjusted (matched or weighted) cohort the later ones read. The heavy ones (Cox
models with pooled imputations, subgroup models) used to run one after the other in this process while
the workers that draw the figures waited for work. Now every catalogue entry declared ``ahead`` is handed
to those workers as soon as its inputs exist: at the start for the analyses before the propensity step,
right after it for those that follow. This process meanwhile computes the others, and builds every
section in catalogue order from the results as they arrive, so the report is the one a serial run writes.

A worker receives the protocol and the cohort pickled once per stage (not once per analysis), and sends
back the analysis' ``Computed`` and the warnings its estimators raised outside :func:`quiet`, which are
re-raised here under this process's warning filters. Anything that goes wrong in a worker (an error in
the analysis, a result that does not pickle) is not reported from there: the analysis is computed again
here, so an error is raised exactly as a serial run raises it, with its own traceback.

The workers are forked when the study starts. Before that, :func:`load_kernels` runs the estimators these
analyses use once on a tiny dataset, so that their compiled kernels (numba's, loaded from its cache on
first use: ~0.6 s of CPU) are inherited, instead of loaded again in each worker of each study.

Without workers (no report written, ``OLIGOMET_FIGURE_PROCESSES=1``, forking not safe) everything is
computed here, in order.
"""
from __future__ import annotations

import itertools
import pickle
import warnings
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .analyses._context import Computed, Ctx


@dataclass(frozen=True)
class _Raised:
    """A warning raised in a worker, to raise again here."""

    message: str
    category: type[Warning]
    filename: str
    lineno: int


def _compute_pickled(key: str, ctx_bytes: bytes):
    """In a worker: compute the catalogue entry ``key`` on the pickled context; None when it failed."""
    from .catalogue import entry

    try:
        ctx = pickle.loads(ctx_bytes)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = entry(key).compute(ctx)
        raised = [_Raised(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        return pickle.dumps((result, raised), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:   # computed again in the main process, which raises it there (see the module)
        return None


class Ahead:
    """``ahead = Ahead(drawing)``; ``ahead.start(ctx, entries)`` hands the entries to the workers;
    ``ahead.result(entry, ctx)`` is the entry's ``Computed``, from a worker when it was handed in and
    succeeded there, else computed here and now."""

    def __init__(self, drawing):
        self._drawing = drawing if drawing is not None and drawing.in_workers else None
        self._futures: dict[str, Future] = {}

    def start(self, ctx: Ctx, entries) -> None:
        """Hand in the ``ahead`` entries among ``entries`` up to the next one that sets ``ctx.adjusted``
        (those after it read what it sets)."""
        ready = list(itertools.takewhile(lambda e: not e.adjusts, entries))
        chosen = [e for e in ready if e.ahead and e.key not in self._futures]
        if self._drawing is None or not chosen:
            return
        ctx_bytes = pickle.dumps(ctx, protocol=pickle.HIGHEST_PROTOCOL)
        for e in chosen:
            self._futures[e.key] = self._drawing.call(_compute_pickled, e.key, ctx_bytes)

    def result(self, entry, ctx: Ctx) -> Computed:
        future = self._futures.pop(entry.key, None)
        sent = None
        if future is not None:
            try:
                sent = future.result()
            except Exception:   # e.g. a worker that died: compute it here
                sent = None
        if sent is None:
            return entry.compute(ctx)
        result, raised = pickle.loads(sent)
        for w in raised:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    def cancel(self) -> None:
        """Drop what has not started (after an error in this process)."""
        for f in self._futures.values():
            f.cancel()
        self._futures.clear()


_loaded = False


def load_kernels(entries) -> None:
    """Once per process, when some of ``entries`` fit Cox models ahead: fit the models those analyses fit
    (Cox with a categorical term, weights and clusters; its PH test and concordance; chained-equation
    imputation pooled over two datasets) on 40 made-up rows, so that the compiled kernels are loaded here.
    Only the speed of the workers depends on it."""
    global _loaded
    if _loaded or not any(e.ahead and e.fits_cox for e in entries):
        return
    _loaded = True
    import oligomet as om

    rng = np.random.default_rng(0)
    n = 40
    d = pd.DataFrame({"t": rng.exponential(1.0, n).round(2) + 0.01, "e": rng.integers(0, 2, n).astype(float),
                      "x": rng.normal(size=n), "g": np.array(["a", "b"] * (n // 2), dtype=object),
                      "w": rng.uniform(0.5, 2.0, n), "c": np.arange(n) % 10})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = om.cox(d, time="t", event="e", covariates=["x", "C(g)"])
        fit.zph()
        _ = fit.concordance
        om.cox(d, time="t", event="e", covariates=["x"], weights="w", cluster="c")
        d.loc[::7, "x"] = np.nan
        om.pool_cox(om.impute(d[["t", "e", "x", "g"]], m=2, seed=0, maxit=2, time="t", event="e"),
                    time="t", event="e", covariates=["x", "C(g)"])
