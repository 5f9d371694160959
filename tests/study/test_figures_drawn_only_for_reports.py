"""Figures are specifications until a report is written: ``run_study(out=None)`` draws nothing."""
from __future__ import annotations

import warnings

import matplotlib.figure

from oligomet.report.document import FigureItem
from oligomet.study import run_study

from .conftest import EXAMPLES


def _count_figures(monkeypatch) -> list:
    made = []
    init = matplotlib.figure.Figure.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "__init__", counting)
    return made


def test_no_figure_is_drawn_without_a_report(registry, monkeypatch):
    made = _count_figures(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(EXAMPLES / "crlm_ablation_timing.toml", tables=registry)
    figures = study.results.figures
    assert len(figures) >= 5 and all(isinstance(f, FigureItem) and callable(f.draw) for f in figures)
    assert made == []
    # the specification draws the figure on demand
    fig = figures[0].render()
    assert isinstance(fig, matplotlib.figure.Figure) and made == [fig]
