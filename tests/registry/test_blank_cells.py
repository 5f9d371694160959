"""Blank rows are found column-wide by NumPy's string functions: they must judge every cell as the
cell-by-cell rule does (None, NaN, empty or whitespace-only text is blank; anything else is not)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from oligomet.registry.importers.tabular import _blank_cell, _blank_cells, drop_blank_rows


def test_every_code_point_alone_and_padded_is_judged_as_str_strip_does():
    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    cells = chars + [c * 2 + " \t" for c in chars] + ["", " ", "\u3000\u2028", "x "]
    for dtype in (object, "str"):
        col = pd.Series(cells, dtype=dtype)
        assert np.array_equal(_blank_cells(col), np.array([_blank_cell(v) for v in cells])), dtype


def test_columns_that_are_not_all_text_keep_the_cell_rule():
    cells = ["a", None, float("nan"), " ", 0, pd.NA, pd.Timestamp("2020-01-01"), ""]
    col = pd.Series(cells, dtype=object)
    assert _blank_cells(col).tolist() == [False, True, True, True, False, False, False, True]
    text = pd.Series(["a", None, " "], dtype="str")   # pandas' text dtype: missing is NaN
    assert _blank_cells(text).tolist() == [False, True, True]


def test_blank_rows_dropped_with_their_row_numbers():
    frame = pd.DataFrame({"a": ["P1", " ", "", "P4"], "b": ["x", "\u00a0", None, ""]}, dtype=object)
    kept, rows = drop_blank_rows(frame)
    assert kept["a"].tolist() == ["P1", "P4"] and rows.tolist() == [1, 4]
