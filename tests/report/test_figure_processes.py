"""Figures drawn in worker processes are the files drawn in this process, a figure completed after it was
handed in is drawn again, and fork is used only when safe."""
from __future__ import annotations

import threading

import pytest

from oligomet.report.document import FigureItem
from oligomet.report.figures import km_figure
from oligomet.report.figures._processes import FigureDrawing, draw_and_save, figure_processes

from .test_figure_files import big_km_table


def _items():
    return [FigureItem(f"km_{i}", "KM", km_figure, data={"table": big_km_table(800, seed=i), "max_time": 60})
            for i in range(3)]


def _draw(tmp_path, monkeypatch, processes: str, items=None, complete=None):
    """Hand ``items`` in, optionally ``complete`` them afterwards, then save; -> files, drawn in workers."""
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", processes)
    items = _items() if items is None else items
    with FigureDrawing(tmp_path / f"scratch{processes}", ("png", "svg")) as drawing:
        drawing.draw(items)
        if complete is not None:
            complete(items)
        files = drawing.save(items, tmp_path / processes)
        in_workers = drawing.in_workers
    assert not (tmp_path / f"scratch{processes}").exists()
    return files, in_workers


def _same_files(a, b) -> bool:
    return list(a) == list(b) and all(a[n][f].read_bytes() == b[n][f].read_bytes() for n in a for f in a[n])


def test_worker_processes_write_the_same_files(tmp_path, monkeypatch):
    single_thread = threading.active_count() == 1
    here, used_here = _draw(tmp_path, monkeypatch, "1")
    there, used_there = _draw(tmp_path, monkeypatch, "2")
    assert not used_here and used_there == single_thread
    assert list(here) == ["km_0", "km_1", "km_2"]
    assert {f.name for f in (tmp_path / "2").iterdir()} == {f"km_{i}.{x}" for i in range(3) for x in ("png", "svg")}
    assert _same_files(here, there)


def _annotate(items):
    items[1].data["annotation"] = "HR 0.42 (0.25–0.72)"   # as the Cox builder completes a KM figure


def test_a_figure_completed_after_it_was_handed_in_is_drawn_again(tmp_path, monkeypatch):
    plain, _ = _draw(tmp_path / "plain", monkeypatch, "1")
    completed_here, _ = _draw(tmp_path / "here", monkeypatch, "1", complete=_annotate)
    completed_there, in_workers = _draw(tmp_path / "there", monkeypatch, "2", complete=_annotate)
    assert in_workers == (threading.active_count() == 1)
    assert _same_files(completed_here, completed_there)
    # the annotation is in the file: the drawing of the specification as first handed in was not used
    assert completed_there["km_1"]["png"].read_bytes() != plain["km_1"]["png"].read_bytes()
    assert completed_there["km_0"]["png"].read_bytes() == plain["km_0"]["png"].read_bytes()


def test_no_fork_while_another_python_thread_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        items = _items()
        with FigureDrawing(tmp_path / "scratch", ("png",)) as drawing:
            drawing.draw(items)
            assert not drawing.in_workers
            assert all(f["png"].exists() for f in drawing.save(items, tmp_path).values())
    finally:
        stop.set()
        other.join()


def cannot_draw(**_):
    raise RuntimeError("this figure cannot be drawn")


def test_an_error_in_a_worker_is_raised_to_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    items = _items() + [FigureItem("bad", "bad", cannot_draw)]
    with pytest.raises(RuntimeError, match="cannot be drawn"), FigureDrawing(tmp_path / "s", ("png",)) as drawing:
        drawing.draw(items)
        drawing.save(items, tmp_path)


def test_the_error_of_a_superseded_drawing_is_not_raised(tmp_path, monkeypatch):
    """A specification that could not be drawn as first handed in, but can once completed."""
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    item = FigureItem("later", "later", cannot_draw)
    with FigureDrawing(tmp_path / "s", ("png",)) as drawing:
        drawing.draw([item])
        item.draw, item.data = km_figure, {"table": big_km_table(100, seed=1), "max_time": 60}
        files = drawing.save([item], tmp_path)
    assert files["later"]["png"].exists()


def _inherited_fonts() -> tuple[int, int, int]:
    from matplotlib import font_manager

    from oligomet.report.figures import _agg, _fonts

    return font_manager._get_font.cache_info().currsize, len(_agg._layouts), len(_fonts._fonts)


def test_workers_open_the_font_files_themselves(tmp_path, monkeypatch):
    """A font object inherited through fork shares its file offset with the parent and the other workers:
    glyph loads in two workers at once then read garbage (FT_Load_Glyph 'invalid outline', seen in the suite).
    Each worker starts without the parent's font objects: matplotlib's cache, the text layouts of _agg and the
    fonts read from memory of _fonts (their fallback, the Last Resort font, reads its file)."""
    from matplotlib import font_manager

    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
    items = _items()
    draw_and_save(items[0], tmp_path / "here", ("png",))   # this process now holds font objects
    font_manager.get_font(font_manager.findfont("DejaVu Sans"))   # and matplotlib's (not needed for the PNG)
    assert min(_inherited_fonts()) > 0
    with FigureDrawing(tmp_path / "s", ("png",)) as drawing:
        in_worker = drawing.call(_inherited_fonts).result()
        if drawing.in_workers:
            assert in_worker == (0, 0, 0)
        drawing.draw(items)
        assert set(drawing.save(items, tmp_path / "out")) == {"km_0", "km_1", "km_2"}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_process_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", value)
    with pytest.raises(ValueError, match="OLIGOMET_FIGURE_PROCESSES"):
        figure_processes()
