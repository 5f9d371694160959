"""Importing a registry in worker processes: ``run_tasks(fn, {key: args})``.

Used for reading a CSV folder's tables (``io.read_csv_folder``), then for validating them
(``validate``: groups of checks, each task returning only its problem logs) and for hashing them
(``oligomet.study.cohort.data_hash``: each task returning one table's bytes to hash). In the last two
the workers inherit the loaded tables as they are (forked: copy-on-write, nothing big pickled).

Why: the tables of a CSV folder are independent of each other until they are all read (only the
patient named in a problem of ``complications`` comes from ``treatments``), and reading them is most
of the time to import a registry (~2 CPU-seconds for 100,000 patients: splitting, decoding and parsing,
mostly in pandas and NumPy calls that hold the interpreter lock, so threads would not help; processes do).

Workers are forked: they start in milliseconds with pandas and oligomet already imported. Forking is
safe only where no other Python thread could hold a lock at that moment, so it is done only when this
is the one Python thread (not inside a web server's or Jupyter's threads), and not in a daemonic
process (``multiprocessing.Pool`` workers may not have children); see ``oligomet._processes``. Native
threads (OpenBLAS, jemalloc) have fork handlers; Python still warns of them (a DeprecationWarning,
shown by pytest). Otherwise, and with ``OLIGOMET_IMPORT_PROCESSES=1``, every task runs here.

This process takes tasks too, rather than wait: a worker's result comes back pickled (the whole
100,000-patient registry would be ~60 MB, ~0.5 s to pickle and unpickle), so on 2 CPUs one worker and
this process beat two workers and an idle caller. Measured there (``docs/registry.md``, "Speed"):
about 1.5x faster in wall time, for about 15% more CPU time in all.

The results are those of running the tasks here: a task writes its problems into a log of its own,
which the caller merges in the order it would have written them (tested, on damaged files too).
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Hashable

from .._processes import can_fork, process_count

_ENV = "OLIGOMET_IMPORT_PROCESSES"


def import_processes() -> int:
    """Processes for importing (reading, validating, hashing): ``OLIGOMET_IMPORT_PROCESSES``, else the CPUs
    available (at most 4)."""
    return process_count(_ENV)


#: Forking the workers costs ~0.05 s; below this many rows in all (~5,000 patients) tasks on loaded tables
#: (validating, hashing) run here.
PROCESSES_FROM_ROWS = 50_000


def processes_for_rows(rows: int) -> int | None:
    """``processes=`` for :func:`run_tasks` on tables of ``rows`` rows in all: the default, or 1 when few."""
    return None if rows >= PROCESSES_FROM_ROWS else 1


def run_tasks(fn: Callable[..., Any], tasks: dict[Hashable, tuple], processes: int | None = None,
              ) -> dict[Hashable, Any]:
    """``{key: fn(*args)}`` for each ``key: args`` of ``tasks``, shared between this process and workers.

    Tasks are taken in the order given (put the longest first): each worker process and this one take
    the next task not yet taken whenever they are free, through a counter in shared memory, so that
    this process works too rather than wait, a worker goes on to its next task without waiting for
    this process to receive its last result, and only the workers' results are pickled. With one
    process, or where forking is not safe (see the module), every task runs here. An error in a task
    is raised here, as running it here would raise it. ``processes``: this one and the workers, at
    most; :func:`import_processes` when None.
    """
    workers = min(processes or import_processes(), len(tasks)) - 1   # besides this process
    if workers < 1 or not can_fork():
        return {key: fn(*args) for key, args in tasks.items()}
    fork = multiprocessing.get_context("fork")
    keys = list(tasks)
    taken = fork.Value("l", 0)   # the tasks keys[:taken.value] are taken
    done: dict[Hashable, Any] = {}
    # initargs reach forked workers as they are (inherited, not pickled): the tasks and the counter.
    with tempfile.TemporaryDirectory(prefix="oligomet-tasks-") as spool, \
            ProcessPoolExecutor(max_workers=workers, mp_context=fork, initializer=_share,
                                initargs=(fn, tasks, keys, taken, spool)) as pool:
        try:
            # one call per task at most: each call takes the next task, or finds none left
            calls = [pool.submit(_take_and_run) for _ in keys]
            while (i := _take(taken, len(keys))) is not None:
                done[keys[i]] = fn(*tasks[keys[i]])
            for call in calls:
                if (i := call.result()) is not None:
                    with open(_result_file(spool, i), "rb") as f:
                        done[keys[i]] = pickle.load(f)
        finally:
            with taken.get_lock():   # after an error: the workers take nothing more
                taken.value = len(keys)
    return {key: done[key] for key in tasks}


_shared: tuple = ()   # in a worker: (fn, tasks, keys, taken, spool) of the run_tasks that forked it


def _share(*shared) -> None:
    global _shared
    _shared = shared


def _take(taken, n: int) -> int | None:
    with taken.get_lock():
        if taken.value >= n:
            return None
        taken.value += 1
        return taken.value - 1


def _result_file(spool: str, i: int) -> str:
    return os.path.join(spool, f"{i}.pickle")


def _take_and_run() -> int | None:
    """The next task not yet taken, run; its result is left in a file, and its number returned.

    Not sent back through the pool: the pool's pipe is read by a thread of the calling process, which
    gets the interpreter lock only now and then while that process runs a task itself, and a worker
    sending ~10 MB stalled for up to 0.3 s at each result. A file is written at once (the page cache),
    and read when the calling process has run out of tasks.
    """
    fn, tasks, keys, taken, spool = _shared
    i = _take(taken, len(keys))
    if i is None:
        return None
    result = fn(*tasks[keys[i]])
    with open(_result_file(spool, i), "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    return i
