"""Analyses computed ahead in the report's worker processes (study/_ahead.py) give the report a serial run
gives; an error or a warning there reaches the caller as it would from a serial run."""
from __future__ import annotations

import json
import os
import pickle
import threading
import warnings

import pandas as pd
import pytest

from oligomet.study import catalogue, load_protocol, run_study
from oligomet.study.analyses._context import Ctx
from oligomet.study.preflight import checked_cohort

from .conftest import EXAMPLES

# the ablation example with a subgroup analysis added: Cox ahead before the matching, subgroups after it
SUBGROUP = """
[[analyses.subgroups]]
name = "Two or more lesions"
column = "n_lesions"
cuts = [2]
labels = ["1 lesion", "≥ 2 lesions"]
endpoints = ["os"]
covariates = ["age"]
"""

needs_workers = pytest.mark.skipif(threading.active_count() != 1 or not hasattr(os, "fork"),
                                   reason="workers are forked only from a single-threaded process")


@pytest.fixture(scope="module")
def protocol(tmp_path_factory):
    path = tmp_path_factory.mktemp("proto") / "ablation_subgroups.toml"
    path.write_text((EXAMPLES / "crlm_ablation_timing.toml").read_text(encoding="utf-8") + SUBGROUP, encoding="utf-8")
    return load_protocol(path)


def _run(proto, registry, out, monkeypatch, processes: str):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", processes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(proto, out=out, tables=registry)
    return out


def _same_report(a, b) -> None:
    assert json.loads((a / "results.json").read_text()) == json.loads((b / "results.json").read_text())
    assert (a / "report.html").read_text() == (b / "report.html").read_text()
    tables = sorted(p.name for p in (a / "tables").glob("*.csv"))
    assert tables and tables == sorted(p.name for p in (b / "tables").glob("*.csv"))
    for name in tables:
        assert (a / "tables" / name).read_bytes() == (b / "tables" / name).read_bytes(), name


def _patched(monkeypatch, key, compute) -> None:
    """Replace an entry's compute in the catalogue (workers forked later inherit it; nothing is pickled)."""
    patched = tuple(a if a.key != key else catalogue.Analysis(**{**a.__dict__, "compute": compute})
                    for a in catalogue.CATALOGUE)
    monkeypatch.setattr(catalogue, "CATALOGUE", patched)


@needs_workers
def test_analyses_computed_in_workers_give_the_serial_report(protocol, registry, tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    pids.mkdir()
    def recording(key):
        compute = catalogue.entry(key).compute

        def compute_and_record(ctx):
            (pids / f"{key}-{os.getpid()}").touch()
            return compute(ctx)
        return compute_and_record

    for key in ("cox", "subgroups"):
        _patched(monkeypatch, key, recording(key))
    parallel = _run(protocol, registry, tmp_path / "parallel", monkeypatch, "2")
    ran = sorted(p.name for p in pids.iterdir())
    # each computed once, in a worker (the subgroups after the matching, on the matched cohort)
    assert [r.split("-")[0] for r in ran] == ["cox", "subgroups"]
    assert all(int(r.split("-")[1]) != os.getpid() for r in ran)
    for p in pids.iterdir():
        p.unlink()
    serial = _run(protocol, registry, tmp_path / "serial", monkeypatch, "1")
    assert sorted(p.name for p in pids.iterdir()) == [f"cox-{os.getpid()}", f"subgroups-{os.getpid()}"]
    _same_report(parallel, serial)
    assert json.loads((parallel / "results.json").read_text())["numbers"]["subgroups"]


@needs_workers
def test_an_analysis_failing_in_a_worker_is_computed_again_here(protocol, registry, tmp_path, monkeypatch):
    """A worker's failure is not reported from there: the analysis runs again in this process."""
    main = os.getpid()
    cox = catalogue.entry("cox")

    def fails_in_workers(ctx):
        if os.getpid() != main:
            raise RuntimeError("only in a worker")
        return cox.compute(ctx)

    _patched(monkeypatch, "cox", fails_in_workers)
    parallel = _run(protocol, registry, tmp_path / "parallel", monkeypatch, "2")
    monkeypatch.undo()
    serial = _run(protocol, registry, tmp_path / "serial", monkeypatch, "1")
    _same_report(parallel, serial)


@needs_workers
def test_an_error_in_an_analysis_is_raised_here_as_in_a_serial_run(protocol, registry, tmp_path, monkeypatch):
    class Unpicklable(ValueError):
        def __init__(self, what, extra):   # pickles to ValueError(message): must not be what reaches the caller
            super().__init__(f"{what} {extra}")

    def fails(ctx):
        raise Unpicklable("subgroups", "failed")

    _patched(monkeypatch, "subgroups", fails)
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    with warnings.catch_warnings(), pytest.raises(Unpicklable, match="subgroups failed"):
        warnings.simplefilter("ignore")
        run_study(protocol, out=tmp_path / "out", tables=registry)
    assert not (tmp_path / "out").exists()


@needs_workers
def test_a_warning_raised_in_a_worker_reaches_the_caller(protocol, registry, tmp_path, monkeypatch):
    cox = catalogue.entry("cox")

    def warns(ctx):
        warnings.warn(f"raised outside quiet() in {os.getpid()}", RuntimeWarning, stacklevel=1)
        return cox.compute(ctx)

    _patched(monkeypatch, "cox", warns)
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    with pytest.warns(RuntimeWarning, match="raised outside quiet") as caught:
        run_study(protocol, out=tmp_path / "out", tables=registry)
    raised_in = [int(str(w.message).rsplit(" ", 1)[1]) for w in caught if "outside quiet" in str(w.message)]
    assert raised_in and os.getpid() not in raised_in   # in a worker, raised again here


@pytest.mark.parametrize("example", ["crlm_ablation_timing.toml", "sarcoma_lung_metastasectomy.toml",
                                     "crlm_early_recurrence.yaml"])
def test_analyses_declared_ahead_only_read_the_context_and_pickle(example, registry):
    """What ``ahead`` declares: the compute leaves the context as it found it (so the order of computing does
    not matter) and its result travels between processes."""
    proto = load_protocol(EXAMPLES / example)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort, _ = checked_cohort(proto, registry, lambda what: None)
        ctx = Ctx(proto=proto, cohort=cohort)
        entries = catalogue.requested(proto.analyses)
        assert any(e.ahead for e in entries)
        for e in entries:
            if e.ahead:
                before = (ctx.cohort.copy(), None if ctx.adjusted is None else ctx.adjusted.copy())
                result = e.compute(ctx)
                pd.testing.assert_frame_equal(ctx.cohort, before[0])
                assert (ctx.adjusted is None) == (before[1] is None)
                if before[1] is not None:
                    pd.testing.assert_frame_equal(ctx.adjusted, before[1])
                assert pickle.loads(pickle.dumps(result)).numbers == result.numbers
            else:
                e.compute(ctx)


def test_only_the_propensity_step_adjusts_and_it_is_not_ahead():
    assert [a.key for a in catalogue.CATALOGUE if a.adjusts] == ["propensity"]
    assert not any(a.adjusts and a.ahead for a in catalogue.CATALOGUE)


def _loaded_after(keys: list[str]) -> int:
    """In a fresh interpreter: how many compiled Cox kernels are in memory after load_kernels(entries)."""
    import subprocess
    import sys

    code = ("from oligomet.study import catalogue, _ahead\n"
            "from oligomet.survival import _cox_kernels as k\n"
            f"_ahead.load_kernels([catalogue.entry(key) for key in {keys!r}])\n"
            "print(sum(bool(f.signatures) for f in vars(k).values() if hasattr(f, 'signatures')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_kernels_are_loaded_before_the_fork_only_for_cox_models_ahead():
    assert _loaded_after(["cox"]) >= 5
    assert _loaded_after(["table_one", "km"]) == 0
