"""Report figures: each function returns a matplotlib Figure (never shown); save with :func:`save_figure`.

``km_figure`` (KM curves + at-risk table), ``cif_figure`` (cumulative incidence), ``forest_figure``
(hazard ratios), ``flow_figure`` (STROBE flow), ``zph_figure`` / ``martingale_figure`` (Cox residuals).
The matching layer adds ``love.py`` and ``overlap.py``.
"""
from ._style import save_figure
from .cif import cif_figure
from .flow import flow_figure
from .forest import forest_figure
from .km import km_figure
from .residuals import martingale_figure, residual_figure, zph_figure

__all__ = ["save_figure", "km_figure", "cif_figure", "forest_figure", "flow_figure",
           "zph_figure", "martingale_figure", "residual_figure"]
