"""Kept for callers of ``oligomet.study.results``: the document model lives in :mod:`oligomet.report.document`."""
from ..report.document import (FigureItem, Section, StudyResults, TextItem, ci, clean, lower_first, num,
                               p_text, p_value, pct)

__all__ = ["FigureItem", "Section", "StudyResults", "TextItem", "ci", "clean", "lower_first", "num", "p_text",
           "p_value", "pct"]
