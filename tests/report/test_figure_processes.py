"""Figures drawn in worker processes are the files drawn in this process, and fork is used only when safe."""
from __future__ import annotations

import threading

import pytest

from oligomet.report.document import FigureItem
from oligomet.report.figures import km_figure
from oligomet.report.figures._processes import FigureDrawing, figure_processes

from .test_figure_files import big_km_table


def _items():
    return [FigureItem(f"km_{i}", "KM", km_figure, data={"table": big_km_table(800, seed=i), "max_time": 60})
            for i in range(3)]


def _draw(tmp_path, monkeypatch, processes: str):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", processes)
    items = _items()
    with FigureDrawing(items, tmp_path / processes, ("png", "svg")) as drawing:
        used_workers = drawing._pool is not None
        files = drawing.files()
    return files, used_workers


def test_worker_processes_write_the_same_files(tmp_path, monkeypatch):
    here, used_here = _draw(tmp_path, monkeypatch, "1")
    there, used_there = _draw(tmp_path, monkeypatch, "2")
    assert not used_here and used_there == (threading.active_count() == 1)
    assert list(here) == list(there) == ["km_0", "km_1", "km_2"]
    for name in here:
        for fmt in ("png", "svg"):
            assert here[name][fmt].read_bytes() == there[name][fmt].read_bytes(), (name, fmt)


def test_no_fork_while_another_python_thread_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        items = _items()
        with FigureDrawing(items, tmp_path, ("png",)) as drawing:
            assert drawing._pool is None
            assert all(f["png"].exists() for f in drawing.files().values())
    finally:
        stop.set()
        other.join()


def cannot_draw(**_):
    raise RuntimeError("this figure cannot be drawn")


def test_an_error_in_a_worker_is_raised_to_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    items = _items() + [FigureItem("bad", "bad", cannot_draw)]
    with pytest.raises(RuntimeError, match="cannot be drawn"), FigureDrawing(items, tmp_path, ("png",)) as drawing:
        drawing.files()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_process_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", value)
    with pytest.raises(ValueError, match="OLIGOMET_FIGURE_PROCESSES"):
        figure_processes()
