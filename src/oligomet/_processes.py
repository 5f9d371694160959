"""How many worker processes a stage may use, and whether forking them is safe here.

Shared by the stages that fork workers (reading, validating and hashing a registry:
``registry/_processes.py``; drawing a report's figures: ``report/figures/_processes.py``); each has its
own environment variable, e.g. ``OLIGOMET_IMPORT_PROCESSES``.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import threading

MAX_DEFAULT = 4


def process_count(env: str, max_default: int = MAX_DEFAULT) -> int:
    """The whole number >= 1 in the environment variable ``env``, else the CPUs available (at most ``max_default``)."""
    text = os.environ.get(env, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{env} must be a whole number >= 1, not {text!r}")
        return int(text)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(available, max_default))


def can_fork() -> bool:
    """True where a forked child cannot inherit a lock another Python thread holds (this is the one Python
    thread), and where forking is possible and allowed (not in a daemonic ``multiprocessing.Pool`` worker)."""
    return (threading.active_count() == 1 and not multiprocessing.current_process().daemon
            and "fork" in multiprocessing.get_all_start_methods())


def worker_started() -> None:
    """Initializer of the forked worker processes (figures, analyses computed ahead).

    - BLAS single-threaded: the workers are the parallelism, and OpenBLAS's own threads would spin-wait on
      the cores the other workers use (a Cox analysis in a worker used twice the CPU with them);
    - the objects inherited from the parent (modules, the study's data) are moved out of the garbage
      collector's view (``gc.freeze``): drawing and fitting allocate so many objects that the collector runs
      often, and every full collection walked all of them though none is freed in the worker (about 8% of
      the drawing CPU). The worker's own objects are collected as before.
    """
    from .survival._blas_threads import one_thread_for_good

    one_thread_for_good()
    gc.freeze()
