"""Report figures: each function returns a matplotlib Figure (never shown); save with :func:`save_figure`.

``km_figure`` (KM curves + at-risk table), ``cif_figure`` (cumulative incidence), ``forest_figure``
(hazard ratios), ``flow_figure`` (STROBE flow). The matching layer adds ``love.py`` and ``overlap.py``.
"""
from ._style import save_figure
from .cif import cif_figure
from .flow import flow_figure
from .forest import forest_figure
from .km import km_figure

__all__ = ["save_figure", "km_figure", "cif_figure", "forest_figure", "flow_figure"]
