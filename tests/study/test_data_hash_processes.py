"""``data_hash`` with its tables hashed in worker processes gives the hash of hashing them one after another.

Each table's bytes (name, columns, dtypes, length and row hashes) are found in a task of
``registry/_processes.run_tasks`` and fed to one SHA-256 in table order: results.json records that hash,
so it must not depend on the processes. Fork only when this is the one Python thread.
"""
from __future__ import annotations

import hashlib
import threading

import pandas as pd
import pytest

from oligomet.registry import TABLE_ORDER
from oligomet.registry import _processes as processes
from oligomet.study import cohort


@pytest.fixture()
def pools(monkeypatch, task_pools):
    """Worker processes even for the small test registry; counts the pools started."""
    monkeypatch.setattr(processes, "PROCESSES_FROM_ROWS", 0)
    return task_pools


def hashed_here(tables) -> str:
    """The hash as ``data_hash`` found it before the processes: one table after another, in one process."""
    h = hashlib.sha256()
    for name in TABLE_ORDER:
        frame = tables.get(name)
        if frame is not None:
            h.update(f"{name}:{list(frame.columns)}:{[str(t) for t in frame.dtypes]}:{len(frame)}".encode())
            h.update(pd.util.hash_pandas_object(cohort._text_as_categories(frame), index=False).to_numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("n", ["1", "2", "3"])
def test_the_hash_does_not_depend_on_the_processes(registry, monkeypatch, pools, n):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", n)
    assert cohort.data_hash(registry) == hashed_here(registry)
    assert pools.made == (n != "1" and threading.active_count() == 1)


def test_a_missing_table_is_left_out_alike(registry, monkeypatch, pools):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", "2")
    tables = {name: frame for name, frame in registry.items() if name != "labs"}
    assert cohort.data_hash(tables) == hashed_here(tables) != cohort.data_hash(registry)


def test_no_fork_while_another_python_thread_runs(registry, monkeypatch, pools, another_thread):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", "2")
    with another_thread():
        assert cohort.data_hash(registry) == hashed_here(registry)
    assert pools.made == 0


def test_small_registries_are_hashed_here(registry, monkeypatch):
    monkeypatch.setattr(processes, "ProcessPoolExecutor", None)   # would fail if used
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", "2")
    small = {name: frame.head(100) for name, frame in registry.items()}
    assert cohort.data_hash(small) == hashed_here(small)
