"""Figure options of issue 10: KM annotation, percent axis, break interval and palettes; the CIF of chosen
causes; the flow diagram's unknown vs not-met exclusions, dropped zero steps, matched cohort, and text that
stays inside its boxes (measured with the Agg renderer)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Annotation

from oligomet.report.figures import cif_figure, flow_figure, km_figure
from oligomet.report.figures._palettes import PALETTES

LONG = ("Not meeting: primary tumour colorectal adenocarcinoma with histologically confirmed liver-only "
        "oligometastatic disease at diagnosis and no extrahepatic disease on staging PET-CT")
# wide capitals (twice the average character width the wrapping assumes) and one word wider than any box:
# the wrapped lines are still too wide, so the font must shrink
UNBROKEN = "Excluded: " + "WMWMWMWMWM " * 6 + "x" * 90


def _flow(n=100_000):
    return pd.DataFrame({
        "step": ["source", "include.0", "include.1", "exclude.0", "exposure"],
        "label": ["Patients in the national registry of oligometastatic disease (all participating centres)",
                  LONG, "Not meeting: ECOG 0-1", UNBROKEN, "In no exposure group"],
        "n_excluded": [0, 23_456, 0, 1_234, 99], "n_unknown": [0, 5_678, 0, 0, 12],
        "n_remaining": [n, n - 23_456, n - 23_456, n - 24_690, n - 24_789]})


GROUPS = {"Upfront ablation followed by systemic chemotherapy (FOLFOX or FOLFIRI)": 40_000,
          "Delayed ablation": 35_211}


def _boxes(fig):
    """(patch extent, text) for every box, pairing each text with the box around its anchor."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    patches = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    out = []
    for t in ax.texts:
        if isinstance(t, Annotation) or not t.get_text():   # arrows are annotations without text
            continue
        x, y = ax.transData.transform(t.get_position())
        owner = [p for p in patches if p.get_window_extent(renderer).contains(x, y)]
        if owner:
            out.append((owner[0].get_window_extent(renderer), t.get_window_extent(renderer), t.get_text()))
    assert len(out) == len(patches)   # every box has its text
    return out


@pytest.mark.parametrize("width", [7.0, 5.0])
@pytest.mark.parametrize("matched", [None, {"Delayed ablation": 30_000,
                                            "Upfront ablation followed by systemic chemotherapy (FOLFOX or "
                                            "FOLFIRI)": 30_000}])
def test_flow_text_stays_inside_its_box(width, matched):
    fig = flow_figure(_flow(), GROUPS, width=width, matched=matched, title="STROBE flow")
    for box, text, content in _boxes(fig):
        assert box.x0 <= text.x0 and text.x1 <= box.x1, content
        assert box.y0 <= text.y0 and text.y1 <= box.y1, content


def _counts(text: str) -> dict:
    out = {"n": int(re.search(r"n = ([\d,]+)", text)[1].replace(",", ""))}
    for key, pat in (("not_met", r"criterion not met: ([\d,]+)"), ("unknown", r"unknown \(missing\): ([\d,]+)")):
        m = re.search(pat, text)
        if m:
            out[key] = int(m[1].replace(",", ""))
    return out


def test_flow_separates_unknown_from_not_met_and_they_add_up():
    flow = _flow()
    texts = [t for _, _, t in _boxes(flow_figure(flow, GROUPS))]
    excl = flow.iloc[1:]
    for r in excl.itertuples():
        box = next(t for t in texts if t.startswith(r.label[:20]))
        c = _counts(box)
        assert c["n"] == r.n_excluded
        if r.n_unknown:
            assert c["unknown"] == r.n_unknown
            assert c["not_met"] + c["unknown"] == r.n_excluded
        else:
            assert "unknown" not in c and "not_met" not in c


def test_flow_drops_zero_steps_only_when_asked():
    flow = _flow()
    keep_all = [t for _, _, t in _boxes(flow_figure(flow))]
    dropped = [t for _, _, t in _boxes(flow_figure(flow, drop_zero_steps=True))]
    zero = "Not meeting: ECOG 0-1"
    assert any(t.startswith(zero) for t in keep_all)
    assert not any(t.startswith(zero) for t in dropped)
    assert len(keep_all) - len(dropped) == 2          # its exclusion box and its "Remaining" box
    assert _counts(dropped[-1])["n"] == flow["n_remaining"].iloc[-1]


def test_flow_matched_cohort_is_the_last_row():
    matched = {"Upfront ablation followed by systemic chemotherapy (FOLFOX or FOLFIRI)": 30_001,
               "Delayed ablation": 30_002}
    boxes = _boxes(flow_figure(_flow(), GROUPS, matched=matched, matched_label="Matched (1:1)"))
    last = sorted(boxes, key=lambda b: b[0].y0)[:2]            # lowest boxes on the page
    assert sorted(_counts(t)["n"] for _, _, t in last) == [30_001, 30_002]
    assert all(t.startswith("Matched (1:1)") for _, _, t in last)
    with pytest.raises(ValueError, match="groups"):
        flow_figure(_flow(), None, matched=matched)


def _km_table():
    rng = np.random.default_rng(3)
    rows = []
    for g in ("A", "B", "C"):
        t = np.sort(rng.uniform(0, 50, 30))
        rows.append(pd.DataFrame({"group": g, "time": t, "n_risk": np.arange(30, 0, -1), "n_event": 1,
                                  "n_censor": 0, "survival": np.linspace(0.97, 0.1, 30)}))
    return pd.concat(rows, ignore_index=True)


def test_km_annotation_percent_breaks_and_palette():
    text = "Log-rank p = 0.012"
    fig = km_figure(_km_table(), annotation=text, annotate="logrank", percent=True, break_every=12,
                    palette="okabe_ito")
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert text in [t.get_text() for t in ax.texts]
    assert list(ax.get_xticks()) == [0, 12, 24, 36, 48, 60]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "0%" and labels[-1] == "100%"
    assert ax.get_ylabel() == "Survival (%)"
    colours = [to_hex(line.get_color()) for line in ax.get_lines() if line.get_label() in ("A", "B", "C")]
    assert colours == [c.lower() for c in PALETTES["okabe_ito"][:3]]


def test_km_grayscale_tells_groups_apart_by_line_style():
    fig = km_figure(_km_table(), palette="grayscale")
    curves = [line for line in fig.axes[0].get_lines() if line.get_label() in ("A", "B", "C")]
    assert len({line.get_linestyle() for line in curves}) == 3
    assert all(to_hex(line.get_color()) in PALETTES["grayscale"] for line in curves)


def test_unknown_palette_and_bad_break_are_errors():
    with pytest.raises(ValueError, match="okabe_ito"):
        km_figure(_km_table(), palette="rainbow")
    with pytest.raises(ValueError, match="positive"):
        km_figure(_km_table(), break_every=0)


def _cif_table():
    rows = []
    for g in ("A", "B"):
        for c in (1, 2):
            t = np.linspace(1, 40, 20)
            rows.append(pd.DataFrame({"group": g, "cause": c, "time": t, "estimate": np.linspace(0.01, 0.3, 20) / c}))
    return pd.concat(rows, ignore_index=True)


def test_cif_shows_one_cause():
    labels = {1: "local recurrence", 2: "death"}
    both = cif_figure(_cif_table(), cause_labels=labels)
    one = cif_figure(_cif_table(), cause_labels=labels, causes=[1])
    assert len(both.axes[0].get_legend().get_texts()) == 4
    legend = [t.get_text() for t in one.axes[0].get_legend().get_texts()]
    assert legend == ["A", "B"]
    drawn = [line for line in one.axes[0].get_lines() if line.get_label() in ("A", "B")]
    # cause 1's curve ends at 0.3, cause 2's at 0.15: only the former is drawn
    assert [float(line.get_ydata()[-1]) for line in drawn] == pytest.approx([0.3, 0.3])
    with pytest.raises(ValueError, match="cause"):
        cif_figure(_cif_table(), causes=[3])
