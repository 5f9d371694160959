"""Fonts read from memory for the text caches of :mod:`._agg` and :mod:`._svg`: the same glyphs, faster.

Why: a matplotlib font reads the font file through a Python file object, a seek and a read for every
glyph FreeType loads, so measuring or laying out a string costs some 150-250 µs whatever its length, and
rendering a glyph 25-30 µs. A report's workers start with empty caches and measure, lay out and render
thousands of strings and glyphs. Given the file's bytes in memory (:class:`io.BytesIO`), the same
FreeType calls take a third to a half of that.

:func:`memory_font` builds the font exactly as :func:`matplotlib.font_manager.get_font` does (it calls the
same builder, with the files in memory instead of their paths): same faces, fallbacks, charmaps, so the
same sizes, layouts and bitmaps (tested: identical PNG and SVG bytes). Should that builder be missing or
change its arguments, this is matplotlib's own ``get_font``.

Fork and threads: a font is kept per thread, as ``get_font`` does (FreeType faces are not thread-safe),
and a forked child builds its own (the files' bytes are shared data and stay).
"""
from __future__ import annotations

import io
import os
import threading

import matplotlib as mpl
from matplotlib import cbook, font_manager

_data: dict = {}    # real path -> the file's bytes
_fonts: dict = {}   # (font paths, rcParams, thread) -> FT2Font
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fonts.clear)


class _FontFile(io.BytesIO):
    """A font file's bytes, with the file's path as ``name`` (matplotlib's fonts name their file)."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


def font_id(font) -> tuple:
    """The file and face of a font, whether it reads the file or memory (keys of glyph caches)."""
    return getattr(font.fname, "name", font.fname), font.face_index


def memory_font(fonts: tuple):
    """``get_font(list(fonts))``, reading the files from memory (``fonts``: from ``_find_fonts_by_props``)."""
    rc = mpl.rcParams
    key = (fonts, rc.get("text.kerning_factor"), rc.get("font.enable_last_resort"), threading.get_ident())
    font = _fonts.get(key)
    if font is None:
        if len(_fonts) > 64:   # as get_font's cache
            _fonts.clear()
        font = _fonts[key] = _build(fonts, *key[1:])
    return font


def _build(fonts: tuple, kerning_factor, last_resort: bool, thread_id: int):
    build = getattr(font_manager._get_font, "__wrapped__", None)
    paths = [os.path.realpath(getattr(f, "path", f)) for f in fonts]
    if build is None or _last_resort() in paths:   # the Last Resort font is matched by path: leave it to get_font
        return font_manager.get_font(list(fonts))
    files = []
    for path, f in zip(paths, fonts):
        if path not in _data:
            with open(path, "rb") as fh:
                _data[path] = fh.read()
        files.append((_FontFile(_data[path], path), getattr(f, "face_index", 0)))
    try:
        return build(tuple(files), _kerning_factor=kerning_factor, thread_id=thread_id, enable_last_resort=last_resort)
    except TypeError:   # another matplotlib's builder
        return font_manager.get_font(list(fonts))


def _last_resort() -> str:
    return os.path.realpath(cbook._get_data_path("fonts", "ttf", "LastResortHE-Regular.ttf"))
