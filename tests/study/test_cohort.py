"""Cohort building: prefiltering on patient fields changes nothing but speed; the flow adds up."""
from __future__ import annotations

import warnings

import pandas as pd

from oligomet.study import cohort as C
from oligomet.study import load_protocol

from .conftest import EXAMPLES


def test_prefilter_gives_the_same_cohort_and_flow(registry):
    proto = load_protocol(EXAMPLES / "sarcoma_lung_metastasectomy.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = C.analysis_frame(registry, proto)
        cohort_full, flow_full = C.apply_cohort(full, proto)
        sub, rows, done = C.prefilter(registry, proto)
        assert done == 1 and len(sub["patients"]) < len(registry["patients"])
        part = C.analysis_frame(sub, proto)
        cohort_part, flow_part = C.apply_cohort(part, proto, rows=rows, skip=done)
    pd.testing.assert_frame_equal(flow_full, flow_part)
    pd.testing.assert_frame_equal(cohort_full.reset_index(drop=True), cohort_part.reset_index(drop=True))


def test_data_hash_depends_on_content_only(registry):
    h = C.data_hash(registry)
    copy = {k: v.copy() for k, v in registry.items()}
    assert C.data_hash(copy) == h
    copy["labs"] = copy["labs"].assign(cea=copy["labs"]["cea"] + 0.1)
    assert C.data_hash(copy) != h


def test_missing_values_never_satisfy_an_inclusion_nor_trigger_an_exclusion():
    frame = pd.DataFrame({"x": [1.0, None, 3.0], "patient_id": ["a", "b", "c"]})
    from oligomet.study.protocol_source import loads

    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n'
                  '[[cohort.include]]\ncolumn="x"\nmin=0\n', "toml")
    cohort, flow = C.apply_cohort(frame, proto)
    assert list(cohort["patient_id"]) == ["a", "c"] and list(flow["n_excluded"]) == [0, 1]
    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n'
                  '[[cohort.exclude]]\ncolumn="x"\nmin=2\n', "toml")
    cohort, _ = C.apply_cohort(frame, proto)
    assert list(cohort["patient_id"]) == ["a", "b"]


def test_conditions_on_nullable_columns_give_na_for_missing_inputs():
    from oligomet.study.cohort import condition_mask
    from oligomet.study.protocol import Condition
    from oligomet.study.protocol_source import loads

    f = pd.DataFrame({"b": pd.array([True, None, False], dtype="boolean"),
                      "x": pd.array([1, None, 3], dtype="Int64"), "s": ["a", None, "c"],
                      "d": pd.to_datetime(["2020-01-01", None, "2021-01-01"])})
    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n', "toml")
    cases = [(dict(column="b", equals=False), [False, None, True]),
             (dict(column="x", min=2), [False, None, True]),
             (dict(column="s", **{"in": ["a"]}), [True, None, False]),
             (dict(column="s", not_equals="a"), [False, None, True]),
             (dict(column="x", missing=True), [False, True, False]),
             (dict(column="d", min="2020-06-01"), [False, None, True]),
             (dict(expr="x > 2"), [False, None, True])]
    for cond, expected in cases:
        got = condition_mask(f, Condition(**cond), proto, ("c",))
        assert [None if v is pd.NA else bool(v) for v in got] == expected, cond


def _step_by_step(registry, proto):
    """The cohort as the criteria define it: the frame cut after each criterion, the groups on the cut frame."""
    candidates, rows, done = C.prefilter(registry, proto)
    from oligomet.study.preflight import prepare_covariates

    frame = prepare_covariates(C.analysis_frame(candidates, proto), proto)
    cur, rows = frame, list(rows)
    for j, (kind, i, crit) in enumerate(C._criteria(proto)):
        if j >= done:
            cur = C._apply(cur, kind, i, crit, proto, rows)
    return C.assign_groups(cur, pd.DataFrame(rows), proto)


def test_cohort_cut_once_as_after_each_criterion(registry):
    """checked_cohort keeps positions through the criteria and groups and cuts the frame once: the same
    cohort and flow as cutting it at each step, for every example protocol."""
    from oligomet.study.preflight import checked_cohort

    for path in sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.yaml")):
        proto = load_protocol(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cohort, flow = checked_cohort(proto, registry)
            want_cohort, want_flow = _step_by_step(registry, proto)
        pd.testing.assert_frame_equal(cohort, want_cohort, check_exact=True)
        pd.testing.assert_frame_equal(flow, want_flow, check_exact=True)


def test_an_unknown_column_in_a_later_criterion_names_every_column(registry):
    from oligomet.study.protocol_source import loads

    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n'
                  '[[cohort.include]]\ncolumn="age"\nmin=40\n[[cohort.include]]\nexpr="nonsense > 1"\n', "toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = C.analysis_frame(registry, proto)
    try:
        C.apply_cohort(frame, proto)
    except C.StudyError as exc:
        assert "unknown column 'nonsense'" in str(exc) and ", ".join(frame.columns) in str(exc)
    else:
        raise AssertionError("no error")


def test_conditions_on_text_as_compared_row_by_row():
    """Text conditions compare each distinct value once: the same masks as pandas' comparisons of every row."""
    from oligomet.study.cohort import condition_mask
    from oligomet.study.protocol import Condition
    from oligomet.study.protocol_source import loads

    s = pd.Series(["a", None, "b", float("nan"), "a", pd.NA, 1, "c"], dtype=object)
    f = pd.DataFrame({"s": s})
    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n', "toml")
    for cond, row in ((dict(equals="a"), s == "a"), (dict(not_equals="a"), s != "a"), (dict(equals=1), s == 1),
                      (dict(**{"in": ["a", "c"]}), s.isin(["a", "c"])),
                      (dict(not_in=["a", 1]), ~s.isin(["a", 1]))):
        want = pd.Series(pd.arrays.BooleanArray(row.to_numpy(dtype=bool), s.isna().to_numpy()), name="s")
        pd.testing.assert_series_equal(condition_mask(f, Condition(column="s", **cond), proto, ("c",)), want)
