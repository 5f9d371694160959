import numpy as np
import pandas as pd
import pytest

from oligomet._validation import (CompleteCaseWarning, complete_cases, event_array, event_codes, group_labels,
                                  time_array)
from oligomet.survival._ties import merge_near_ties


def test_time_errors_name_column_and_rows():
    d = pd.DataFrame({"t": [1.0, -2.0, np.nan]}, index=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"'t'.*missing.*'c'"):
        time_array(d, "t")
    with pytest.raises(ValueError, match=r"negative.*'b'"):
        time_array(d.iloc[:2], "t")
    with pytest.raises(ValueError, match="unknown time column 'x'"):
        time_array(d, "x")


def test_event_must_be_binary():
    d = pd.DataFrame({"e": [0, 1, 2]})
    with pytest.raises(ValueError, match=r"'e' must be 0/1.*2.*row 2"):
        event_array(d, "e")
    assert event_array(pd.DataFrame({"e": [True, False]}), "e").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="non-negative integers"):
        event_codes(pd.DataFrame({"e": [0, 1.5]}), "e")


def test_complete_cases_reports_drops():
    d = pd.DataFrame({"a": [1, None, 3, None], "b": [1, 2, None, None]})
    with pytest.warns(CompleteCaseWarning, match="3 row"):
        kept, dropped = complete_cases(d, ["a", "b"])
    assert len(kept) == 1 and dropped.n == 3 and dropped.by_column == {"a": 2, "b": 2}


def test_group_levels_sorted_like_r():
    codes, levels = group_labels(pd.DataFrame({"g": ["b", "a", "b"]}), "g")
    assert levels == ["a", "b"] and codes.tolist() == [1, 0, 1]


def test_near_ties_merged_deterministically():
    t = np.array([1.0, 1.0 + 1e-12, 2.0, 3.0])
    out = merge_near_ties(t)
    assert out[0] == out[1] == 1.0 and out[2] == 2.0
    assert np.array_equal(merge_near_ties(np.array([1.0, 2.0])), [1.0, 2.0])


def test_whole_number_fast_path_keeps_r_semantics():
    days = np.array([3.0, 1.0, 2.0, 2.0, 1000.0])
    assert merge_near_ties(days) is days or np.array_equal(merge_near_ties(days), days)
    # Huge whole numbers one apart are near-ties relative to their mean (aeqSurv's second rule):
    # the fast path must step aside and the general rule must merge them.
    huge = np.array([3e8, 3e8 + 1, 3e8 + 2])
    assert np.array_equal(merge_near_ties(huge), [3e8, 3e8, 3e8])
