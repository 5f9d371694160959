"""``validate`` with its checks in worker processes gives the report of running them one after another here.

``validate._GROUPS``: the checks in groups, each group a task of ``registry/_processes.run_tasks`` (forked
workers that inherit the tables, and this process); each check logs into a log of its own, merged in the
order of ``validate._CHECKS``. Fork only when this is the one Python thread.
"""
from __future__ import annotations

import importlib
import threading

import numpy as np
import pandas as pd
import pytest

from oligomet.datasets import synthetic_registry
from oligomet.registry import read_registry, validate
from oligomet.registry.rules import ids

from test_read_processes import FOLDERS, KEY, damaged_folder

V = importlib.import_module("oligomet.registry.validate")   # the package's ``validate`` is the function


@pytest.fixture()
def pools(monkeypatch, task_pools):
    """Worker processes even for the small test registries; counts the pools started."""
    monkeypatch.setattr("oligomet.registry._processes.PROCESSES_FROM_ROWS", 0)
    return task_pools


def _validate(monkeypatch, tables, n: str, **kw):
    """``validate`` in ``n`` processes; with "1", every check one after another in one group, as before
    the checks were grouped."""
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", n)
    with monkeypatch.context() as m:
        if n == "1":
            m.setattr(V, "_GROUPS", (V._CHECKS,))
        return validate(tables, **kw)


def assert_same_report(here, there) -> None:
    pd.testing.assert_frame_equal(here.problems, there.problems, check_exact=True)
    for col in here.problems:   # the same Python types too (ints and None in row)
        assert list(map(type, here.problems[col])) == list(map(type, there.problems[col])), col
    assert ids.redacted(here) == ids.redacted(there)


def test_every_check_is_in_one_group():
    grouped = [check for group in V._GROUPS for check in group]
    assert sorted(c.__name__ for c in grouped) == sorted(c.__name__ for c in V._CHECKS)
    assert len({c.__name__ for c in V._CHECKS}) == len(V._CHECKS)


def _workers_used(pools) -> bool:
    return pools.made == (threading.active_count() == 1)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_workers_validate_the_test_folders_as_this_process_does(folder, monkeypatch, pools):
    tables, _ = read_registry(folder)
    here = _validate(monkeypatch, tables, "1", data_lock="2022-01-01")
    assert pools.made == 0
    there = _validate(monkeypatch, tables, "2", data_lock="2022-01-01")
    assert _workers_used(pools)
    assert_same_report(here, there)


@pytest.mark.parametrize("kw", [{}, {"identifier_key": KEY}], ids=str)
def test_workers_validate_a_damaged_folder_as_this_process_does(tmp_path, monkeypatch, pools, another_thread, kw):
    tables, _ = read_registry(damaged_folder(tmp_path), **kw)
    here = _validate(monkeypatch, tables, "1")
    there = _validate(monkeypatch, tables, "3")
    assert _workers_used(pools)
    assert len(here) and not here.ok
    assert_same_report(here, there)
    # No fork while another Python thread runs: the checks run here, with the same report.
    made = pools.made
    with another_thread():
        assert_same_report(here, _validate(monkeypatch, tables, "2"))
    assert pools.made == made


def many_problems(n_patients: int = 400, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A synthetic registry with about a tenth of its cells damaged, within each column's dtype: dates
    moved by up to 60 years, ids and codes swapped for other rows' values, junk, identifiers or nothing,
    numbers negated or enlarged; and some rows entered twice."""
    rng = np.random.default_rng(seed)
    tables = synthetic_registry(n_patients, seed=seed)
    junk = np.array([None, "bogus", "123456782", "x@example.org", "P" + "9" * 120, "06-12345678"], dtype=object)
    out = {}
    for name, frame in tables.items():
        frame = pd.concat([frame, frame.iloc[: len(frame) // 20]], ignore_index=True)
        for col in frame.columns:
            hit = rng.random(len(frame)) < 0.1
            if not hit.any():
                continue
            values = frame[col].to_numpy(copy=True)
            if np.issubdtype(values.dtype, np.datetime64):
                values[hit] = values[hit] + rng.integers(-22_000, 22_000, hit.sum()).astype("timedelta64[D]")
            elif frame[col].dtype == object:
                pick = rng.random(hit.sum()) < 0.5
                other = frame[col].to_numpy()[rng.integers(0, len(frame), hit.sum())]
                values[hit] = np.where(pick, other, junk[rng.integers(0, len(junk), hit.sum())])
            else:
                continue
            frame[col] = pd.Series(values, dtype=frame[col].dtype)
        for col in [c for c in frame.select_dtypes("number") if not pd.api.types.is_bool_dtype(frame[c])]:
            hit = rng.random(len(frame)) < 0.1
            frame.loc[hit, col] = frame.loc[hit, col] * rng.choice([-1, 100], hit.sum())
        out[name] = frame
    return out


def test_workers_validate_a_registry_with_many_problems_as_this_process_does(monkeypatch, pools):
    tables = many_problems()
    here = _validate(monkeypatch, tables, "1", data_lock="2023-06-30")
    there = _validate(monkeypatch, tables, "2", data_lock="2023-06-30")
    assert _workers_used(pools)
    assert len(set(here.problems["rule"])) >= 20 and len(here) > 1000
    assert ids.redacted(here)   # identifiers were found, and masked alike
    assert_same_report(here, there)


def test_small_registries_are_validated_here(monkeypatch):
    from oligomet.registry import _processes

    monkeypatch.setattr(_processes, "ProcessPoolExecutor", None)   # would fail if used
    tables, _ = read_registry(FOLDERS[0])
    _validate(monkeypatch, tables, "2")
