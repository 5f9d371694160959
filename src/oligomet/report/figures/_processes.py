"""Drawing a report's figures in worker processes, while the report's tables are written.

Why: a report's figures are independent of each other and of its tables, and drawing them (300-dpi
raster, mostly matplotlib's text rendering) is the largest single cost of writing a report. Matplotlib
holds the interpreter lock while it draws, so threads would not help; processes do, one figure each.

Workers are forked: they start in milliseconds with matplotlib and the figure code already imported,
and a script run without an ``if __name__ == "__main__"`` guard still works (``spawn`` and
``forkserver`` re-import the main module). Forking is safe only where no other Python thread could
hold a lock at that moment, so it is done only when this is the one Python thread (e.g. not inside a
web server's or Jupyter's threads). Native threads of NumPy's OpenBLAS (pthreads, with fork handlers)
are idle between calls; Python still warns of them (a DeprecationWarning, shown by pytest).
Otherwise, as with ``OLIGOMET_FIGURE_PROCESSES=1``, the figures are drawn here. A figure given already
drawn (``FigureItem.draw`` a Figure, not a function) is always saved here: a live Figure does not travel
between processes. The files are the same either way (tested).
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ._style import save_figure

_ENV = "OLIGOMET_FIGURE_PROCESSES"
_MAX_DEFAULT = 4


def figure_processes() -> int:
    """Worker processes for figures: ``OLIGOMET_FIGURE_PROCESSES``, else the CPUs available (at most 4)."""
    text = os.environ.get(_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{_ENV} must be a whole number >= 1, not {text!r}")
        return int(text)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(available, _MAX_DEFAULT))


def draw_and_save(item, stem: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """Draw one ``FigureItem`` and save it as ``<stem>.<fmt>``; returns {format: path}."""
    fig = item.render()
    try:
        return {p.suffix[1:]: p for p in save_figure(fig, stem, formats)}
    finally:
        fig.clf()   # free the memory of a big figure once saved


class FigureDrawing:
    """``with FigureDrawing(items, folder, formats) as drawing: ...; files = drawing.files()``.

    Drawing starts on entry, in worker processes when that is possible (see the module), so that the
    caller can write its tables meanwhile; :meth:`files` waits for the figures and returns name ->
    {format: path}. An error in a figure is raised by :meth:`files`, as drawing here would raise it.
    """

    def __init__(self, items, folder: Path, formats: tuple[str, ...]):
        self.items, self.folder, self.formats = list(items), Path(folder), formats
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[str, Future] = {}

    def __enter__(self) -> "FigureDrawing":
        drawable = [it for it in self.items if callable(it.draw)]
        workers = min(figure_processes(), len(drawable))
        if workers > 1 and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
            self._futures = {it.name: self._pool.submit(draw_and_save, it, self.folder / it.name, self.formats)
                             for it in drawable}
        return self

    def files(self) -> dict[str, dict[str, Path]]:
        done = {name: f.result() for name, f in self._futures.items()}
        for it in self.items:
            if it.name not in done:
                done[it.name] = draw_and_save(it, self.folder / it.name, self.formats)
        return {it.name: done[it.name] for it in self.items}

    def __exit__(self, *exc) -> None:
        if self._pool is not None:   # after an error elsewhere: drop what has not started, wait for the rest
            self._pool.shutdown(wait=True, cancel_futures=True)
