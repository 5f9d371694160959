"""``run_study(out=...)`` draws figures while the analyses run; the report is the one drawn at the end.

The ablation protocol completes its flow diagram after it was handed in (the matched cohort is added by
the propensity analysis), so the redrawing of completed specifications is exercised too.
"""
from __future__ import annotations

import threading
import warnings

from oligomet.report.figures import _processes
from oligomet.study import run_study

from .conftest import EXAMPLES


def test_figures_drawn_during_the_study_are_those_drawn_at_the_end(registry, tmp_path, monkeypatch):
    handed_in = []
    draw = _processes.FigureDrawing.draw

    def recording(self, items):
        handed_in.append(([it.name for it in items], self.in_workers))
        draw(self, items)

    monkeypatch.setattr(_processes.FigureDrawing, "draw", recording)
    single_thread = threading.active_count() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "2")
        run_study(EXAMPLES / "crlm_ablation_timing.toml", out=tmp_path / "early", tables=registry)
        monkeypatch.setenv("OLIGOMET_FIGURE_PROCESSES", "1")
        run_study(EXAMPLES / "crlm_ablation_timing.toml", out=tmp_path / "late", tables=registry)
    early_run = handed_in[:len(handed_in) // 2]
    # handed in as the sections were built: the flow diagram alone first, all figures at the end
    handed = [names for names, _ in early_run if names]
    assert handed[0] == ["flow"] and len(handed) >= 5 and len(handed[-1]) >= 8
    assert all(in_workers == single_thread for _, in_workers in early_run)
    early, late = sorted((tmp_path / "early" / "figures").iterdir()), sorted((tmp_path / "late" / "figures").iterdir())
    assert [f.name for f in early] == [f.name for f in late] and "flow.png" in {f.name for f in early}
    for a, b in zip(early, late):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no scratch folder left behind
