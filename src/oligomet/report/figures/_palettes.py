"""The named palettes a protocol may choose for its curves (``palette = "okabe_ito"``).

* ``default``: the report's own colours (Okabe–Ito hues, blue and vermilion first);
* ``okabe_ito``: the Okabe–Ito colour-blind-safe set in its published order (yellow left out: it
  disappears on white paper);
* ``grayscale``: black and greys for print; groups are also told apart by line style, because
  neighbouring greys alone are hard to tell apart.
"""
from __future__ import annotations

from ._style import PALETTE

PALETTES: dict[str, tuple[str, ...]] = {
    "default": PALETTE,
    "okabe_ito": ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000"),
    "grayscale": ("#000000", "#6e6e6e", "#a3a3a3", "#3d3d3d"),
}
#: Palettes whose groups also get a line style of their own.
NEEDS_LINESTYLES = frozenset({"grayscale"})
#: Line styles by group for those palettes (solid first).
GROUP_LINESTYLES = ("-", "--", ":", "-.")


def palette_color(name: str, i: int) -> str:
    """Colour of the ``i``-th group in palette ``name``; an unknown name is a ValueError naming the choices."""
    try:
        colours = PALETTES[name]
    except KeyError:
        raise ValueError(f"unknown palette {name!r}; choose one of {', '.join(PALETTES)}") from None
    return colours[i % len(colours)]


def group_linestyle(name: str, i: int) -> str:
    """Line style of the ``i``-th group: solid except in palettes that need styles to tell groups apart."""
    return GROUP_LINESTYLES[i % len(GROUP_LINESTYLES)] if name in NEEDS_LINESTYLES else "-"
