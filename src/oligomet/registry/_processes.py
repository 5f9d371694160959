"""Reading a registry's tables in worker processes: ``run_tasks(fn, {key: args})``.

Why: the tables of a CSV folder are independent of each other until they are all read (only the
patient named in a problem of ``complications`` comes from ``treatments``), and reading them is most
of the time to import a registry (~3 CPU-seconds for 100,000 patients: splitting, decoding and parsing
in pandas and NumPy calls that hold the interpreter lock, so threads would not help; processes do).

Workers are forked: they start in milliseconds with pandas and oligomet already imported. Forking is
safe only where no other Python thread could hold a lock at that moment, so it is done only when this
is the one Python thread (not inside a web server's or Jupyter's threads), and not in a daemonic
process (``multiprocessing.Pool`` workers may not have children); see ``oligomet._processes``. Native
threads (OpenBLAS, jemalloc) have fork handlers; Python still warns of them (a DeprecationWarning,
shown by pytest). Otherwise, and with ``OLIGOMET_IMPORT_PROCESSES=1``, every task runs here.

This process takes tasks too, rather than wait: on 2 CPUs one worker and this process beat two
workers, since a worker's result comes back pickled (the whole 100,000-patient registry would be
~60 MB, ~0.5 s to pickle and unpickle) and this process would compete with them for the CPUs while
it unpickles.

The results are those of running the tasks here: a task writes its problems into a log of its own,
which the caller merges in the order it would have written them (tested, on damaged files too).
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Hashable

from .._processes import can_fork, process_count

_ENV = "OLIGOMET_IMPORT_PROCESSES"


def import_processes() -> int:
    """Processes for reading tables: ``OLIGOMET_IMPORT_PROCESSES``, else the CPUs available (at most 4)."""
    return process_count(_ENV)


def run_tasks(fn: Callable[..., Any], tasks: dict[Hashable, tuple], processes: int | None = None,
              ) -> dict[Hashable, Any]:
    """``{key: fn(*args)}`` for each ``key: args`` of ``tasks``, shared between this process and workers.

    Tasks are taken in the order given (put the longest first): each worker process and this one take
    the next task not yet taken whenever they are free, so that this process works too rather than
    wait, and only the workers' results are pickled. With one process, or where forking is not safe
    (see the module), every task runs here. An error in a task is raised here, as running it here
    would raise it. ``processes``: this one and the workers, at most; :func:`import_processes` when None.
    """
    workers = min(processes or import_processes(), len(tasks)) - 1   # besides this process
    if workers < 1 or not can_fork():
        return {key: fn(*args) for key, args in tasks.items()}
    untaken = list(tasks)
    lock = threading.RLock()   # a task done before add_done_callback calls hand_out at once, lock held
    futures: dict[Hashable, Future] = {}
    done: dict[Hashable, Any] = {}

    def take() -> Hashable | None:
        with lock:
            return untaken.pop(0) if untaken else None

    def hand_out(finished: Future | None = None) -> None:
        # Called here, and in the pool's thread as a worker finishes a task. Not after a failure: the
        # pool calls this with its lock held when it breaks, and what a failed worker did not do is
        # done here.
        if finished is not None and (finished.cancelled() or finished.exception() is not None):
            return
        with lock:
            if untaken:
                key = untaken.pop(0)
                futures[key] = pool.submit(fn, *tasks[key])
                futures[key].add_done_callback(hand_out)

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            for _ in range(workers):
                hand_out()
            while (key := take()) is not None:
                done[key] = fn(*tasks[key])
            with lock:   # nothing is handed out any more
                handed = dict(futures)
            done.update((key, future.result()) for key, future in handed.items())
        finally:
            with lock:   # after an error: hand out nothing more; the pool waits for what runs
                untaken.clear()
    return {key: done[key] for key in tasks}
