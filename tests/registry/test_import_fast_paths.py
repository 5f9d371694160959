"""The import's fast paths (issue 10) give what the plain formulations they replace give.

Each fast path (NumPy line splitting, one-factorize lookups, per-value string cleaning) is checked
against the slower, obvious version on generated inputs: blank and whitespace lines, CR/CRLF line
breaks, accents, missing values, repeated and unknown keys.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from oligomet.registry.importers.csvfile import _read_quoted, _read_unquoted, _split_unquoted
from oligomet.registry.importers.tabular import _first_line, drop_blank_rows
from oligomet.registry.parse import _WHITESPACE_AND_NUL, _clean_texts, _list_cells
from oligomet.registry.report import ProblemLog
from oligomet.registry.rules.context import first_positions

CELL = st.sampled_from(["a", "b ", " c", "", "  ", "é", "SYN-1", "1.5", "\t", "ü ", "\u00a0", "x\x00"])


@st.composite
def unquoted_csv(draw):
    sep = draw(st.sampled_from([",", ";"]))
    n = draw(st.integers(1, 4))
    blank = st.sampled_from(["", " ", "\t "])
    lines = draw(st.lists(blank, max_size=2))
    lines.append(sep.join(draw(st.lists(st.sampled_from(["id", "x", "Y z", "date"]), min_size=n, max_size=n))))
    for _ in range(draw(st.integers(0, 6))):
        lines.append(draw(blank) if draw(st.booleans()) and draw(st.booleans())
                     else sep.join(draw(st.lists(CELL, min_size=n, max_size=n))))
    brk = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return brk.join(lines) + draw(st.sampled_from(["", brk, brk + brk])), sep


def _cells(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if not isinstance(v, str) else v for v in row) for row in frame.itertuples()]


@settings(max_examples=300, deadline=None)
@given(unquoted_csv())
def test_unquoted_reader_gives_the_careful_readers_records(case):
    text, sep = case
    fast = _read_unquoted(text, sep)
    careful = _read_quoted(text, sep, "t.csv", "labs", ProblemLog())
    assert fast is not None and careful is not None
    assert fast[0] == careful[0]
    kept, rows = drop_blank_rows(fast[1])
    assert all(kept[c].dtype == object for c in kept)
    assert _cells(kept.set_axis(pd.Index(rows, name="row"))) == _cells(careful[1])


@settings(max_examples=300, deadline=None)
@given(unquoted_csv())
def test_arrow_reader_gives_the_pandas_readers_cells(case):
    """``categorical``: Arrow's reader, each column a categorical of the same texts (or pandas' reader for a
    file with blank lines, which Arrow refuses)."""
    text, sep = case
    arrow, plain = _split_unquoted(text, sep, categorical=True), _split_unquoted(text, sep)
    assert (arrow is None) == (plain is None)
    if arrow is None:
        return
    assert arrow[0] == plain[0] and arrow[2] == plain[2]
    assert arrow[1].index.equals(plain[1].index) and arrow[1].index.name == "row"
    assert _cells(arrow[1].astype(object)) == _cells(plain[1])


EDGE_CELL = st.text(alphabet=["a", "é", " ", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u2000", "\u3000", "\u2028",
                              "\u00e9", "\u4e00", "-"], max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([",", ";"]), st.lists(st.lists(EDGE_CELL, min_size=3, max_size=3), min_size=1, max_size=6),
       st.sampled_from(["\n", "\r\n", ""]))
def test_stripped_flag_only_when_every_cell_is_its_own_strip(sep, records, end):
    """``_split_unquoted``'s flag, which lets ``parse`` skip stripping: True exactly when no cell is
    changed by stripping (whitespace of either end, accents that are not whitespace next to it)."""
    text = "\n".join(sep.join(r) for r in [["x", "y", "z"], *records]) + end
    split = _split_unquoted(text, sep)
    if split is None:   # a line the fast reader leaves to the careful one
        return
    header, frame, stripped = split
    cells = [v for row in frame.itertuples(index=False) for v in row]
    assert cells == [v for r in records for v in r]
    assert stripped == all(v == v.rstrip(_WHITESPACE_AND_NUL).lstrip() for v in cells)


@given(st.text(alphabet=["a", ";", ",", " ", "\n", "\r", "\x0b", "\u2028", "\t"], max_size=60))
def test_first_line_is_the_first_nonblank_of_splitlines(text):
    assert _first_line(text) == next((ln for ln in text.splitlines() if ln.strip()), "")


@settings(max_examples=500)
@given(st.lists(st.text(alphabet=["a", " ", "\t", "\u3000", "\x00", "é", "\x85", "\x1c"], max_size=6), max_size=20))
def test_clean_texts_is_numpys_strip(values):
    uniq = np.array(values, dtype=object)
    if not len(uniq):
        return
    expected = np.char.strip(uniq.astype(str)).astype(object)   # the former implementation
    expected[expected == ""] = None
    assert list(_clean_texts(uniq)) == list(expected)


@given(st.lists(st.one_of(st.none(), st.text(alphabet=["L", "1", ";", ",", " ", "\t", "\n", "\u3000"], min_size=1,
                                                max_size=8).map(str.strip).filter(bool)), max_size=20))
def test_list_cells_are_the_regex_substitution(values):
    s = pd.Series(values, dtype=object)
    out = s.str.replace(r"\s*[;,]\s*", ";", regex=True).str.strip(";")
    expected = out.mask(out == "").astype(object)
    assert list(_list_cells(s)) == [None if not isinstance(v, str) else v for v in expected]


@given(st.lists(st.sampled_from(["a", "b", "c", None, np.nan]), max_size=10),
       st.lists(st.sampled_from(["a", "b", "z", None]), max_size=10))
def test_first_positions_is_the_first_equal_element(values, keys):
    v, k = np.array(values, dtype=object), np.array(keys, dtype=object)
    expected = [next((i for i, x in enumerate(values) if key is not None and x == key), -1) for key in keys]
    assert list(first_positions(v, k)) == expected


def test_whitespace_set_is_pythons():
    from oligomet.registry.parse import _WHITESPACE_AND_NUL

    assert set(_WHITESPACE_AND_NUL) == {chr(c) for c in range(0x110000) if chr(c).isspace()} | {"\x00"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=list("0123456789 .-()/+\x00@aé;,\x01\u3000"), max_size=300), max_size=12),
       st.sampled_from([16, 64, 1 << 20]))
def test_identifier_prefilter_is_its_regex(texts, at_a_time):
    """``ids._candidates``, vectorised over the joined texts (some characters at a time), keeps what a
    regex per text keeps: an ``@``, or 9 digits with only number separators between them (NUL counting
    as one in texts of up to 256 characters, as in the fixed-width arrays of the former pre-filter)."""
    import re

    from oligomet.registry.rules import ids

    short = re.compile(r"[0-9](?:[ .\-()/+\x00]*[0-9]){8}")
    expected = ["@" in t or (short if len(t) <= 256 else ids._LONG_CANDIDATE).search(t) is not None for t in texts]
    before = ids._CHARACTERS_AT_A_TIME
    ids._CHARACTERS_AT_A_TIME = at_a_time
    try:
        assert list(ids._candidates(np.array(texts, dtype=object))) == expected
    finally:
        ids._CHARACTERS_AT_A_TIME = before
