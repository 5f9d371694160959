"""Drawing a report's figures in worker processes, each as soon as its specification is handed in (and
writing its table files there too, :meth:`FigureDrawing.call`).

Why: a report's figures are independent of each other and of its tables, and drawing them (300-dpi
raster, mostly matplotlib's text rendering) is the largest single cost of writing a report. Matplotlib
holds the interpreter lock while it draws, so threads would not help; processes do, one figure each.
``run_study`` hands each analysis' figures in as soon as its section is built, so they are drawn on the
other cores while the next analyses run, not after them all.

A specification may still be completed after it was handed in (the flow diagram gains the matched
cohort when the propensity analysis runs; a KM figure the HR of the Cox model). So each one is pickled
when it is handed in, and its drawing is used only if the final specification pickles to the same
bytes; otherwise it is drawn again. The files are therefore those of the final specifications, as if
drawn at the end in this process (tested).

Workers are forked: they start in milliseconds with matplotlib and the figure code already imported,
and a script run without an ``if __name__ == "__main__"`` guard still works (``spawn`` and
``forkserver`` re-import the main module). Forking is safe only where no other Python thread could
hold a lock at that moment, so the workers are all forked on entry, and only when this is the one
Python thread (e.g. not inside a web server's or Jupyter's threads). Native threads of NumPy's OpenBLAS
(pthreads, with fork handlers) are idle between calls; Python still warns of them (a DeprecationWarning,
shown by pytest). Each worker opens the font files itself (see ``_agg``: an inherited file offset is
shared with the other workers). Otherwise, as
with ``OLIGOMET_FIGURE_PROCESSES=1``, the figures are drawn in this process when saved. A figure given
already drawn (``FigureItem.draw`` a Figure, not a function) is always saved here: a live Figure does
not travel between processes.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import shutil
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..._processes import can_fork, process_count, worker_started
from ._style import save_figure

_ENV = "OLIGOMET_FIGURE_PROCESSES"


def figure_processes() -> int:
    """Worker processes for figures: ``OLIGOMET_FIGURE_PROCESSES``, else the CPUs available (at most 4)."""
    return process_count(_ENV)


def forks_workers() -> bool:
    """Whether a :class:`FigureDrawing` entered now would draw in worker processes (see the module)."""
    return figure_processes() > 1 and can_fork()


def draw_and_save(item, stem: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """Draw one ``FigureItem`` and save it as ``<stem>.<fmt>``; returns {format: path}."""
    # not fig.clf() after: clearing a figure rebuilds its axes (ticks included), a fifth of the time of
    # building it, and frees little (measured: 11 MB more at the peak over a report's 28 figures)
    return {p.suffix[1:]: p for p in save_figure(item.render(), stem, formats)}


def _draw_pickled(spec: bytes, stem: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    return draw_and_save(pickle.loads(spec), stem, formats)


def _nothing() -> None:
    """Submitted on entry, so that the pool forks its workers then (see the module)."""


@dataclass
class _Started:
    spec: bytes        # the specification as handed in, pickled
    future: Future     # -> {format: path} in the scratch folder


class FigureDrawing:
    """``with FigureDrawing(scratch, formats) as d: d.draw(items); ...; files = d.save(items, folder)``.

    :meth:`draw` starts drawing the figures among ``items`` that are new or changed since they were last
    handed in, in worker processes when that is possible (see the module); call it as often as figures
    appear. :meth:`save` waits for the drawings of exactly these specifications (drawing here what was
    not drawn in a worker), moves the files to ``folder`` as ``<name>.<fmt>`` and returns name ->
    {format: path}. An error in a figure is raised by :meth:`save`, as drawing here would raise it.
    ``scratch``: an empty folder on the file system of ``folder``, for drawings not yet saved; removed on exit.
    """

    def __init__(self, scratch: Path, formats: tuple[str, ...]):
        self.scratch, self.formats = Path(scratch), tuple(formats)
        self._pool: ProcessPoolExecutor | None = None
        self._started: dict[str, _Started] = {}
        self._stems = itertools.count()

    @property
    def in_workers(self) -> bool:
        return self._pool is not None

    def __enter__(self) -> "FigureDrawing":
        if forks_workers():
            self._pool = ProcessPoolExecutor(max_workers=figure_processes(), initializer=worker_started,
                                             mp_context=multiprocessing.get_context("fork"))
            self._pool.submit(_nothing)   # forks all the workers now, while this is the one Python thread
        return self

    def draw(self, items) -> None:
        if self._pool is None:
            return
        for it in items:
            if not callable(it.draw):
                continue
            spec = pickle.dumps(it, protocol=pickle.HIGHEST_PROTOCOL)
            before = self._started.get(it.name)
            if before is not None:
                if before.spec == spec:
                    continue
                before.future.cancel()   # superseded: completed since it was handed in
            stem = self.scratch / f"{next(self._stems)}-{it.name}"
            self._started[it.name] = _Started(spec, self._pool.submit(_draw_pickled, spec, stem, self.formats))

    def call(self, fn, *args) -> Future:
        """``fn(*args)`` in a worker process when there are workers (queued behind the figures handed in),
        otherwise here and now; the Future holds its result or error. ``fn`` and ``args`` must pickle."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as e:   # raised by .result(), as from a worker
            done.set_exception(e)
        return done

    def save(self, items, folder: Path) -> dict[str, dict[str, Path]]:
        items = list(items)
        self.draw(items)
        mine = [self._started[it.name].future for it in items if it.name in self._started]
        wait(mine)
        for f in mine:   # the first error, as drawing here in order would raise it
            if f.exception() is not None:
                raise f.exception()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for it in items:
            started = self._started.get(it.name) if callable(it.draw) else None
            if started is None:
                out[it.name] = draw_and_save(it, folder / it.name, self.formats)
                continue
            out[it.name] = {}
            for fmt, path in started.future.result().items():
                target = folder / f"{it.name}.{fmt}"
                os.replace(path, target)
                out[it.name][fmt] = target
        return out

    def __exit__(self, *exc) -> None:
        try:
            if self._pool is not None:   # after an error elsewhere: drop what has not started, wait for the rest
                self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
