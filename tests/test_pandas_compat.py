"""The same behaviour on pandas 2.x and pandas 3 (copy-on-write, ``str`` dtype, empty mappers).

Each test below failed on pandas 3.1 before ``oligomet._pandas_compat`` existed, and each still
checks something real on pandas 2 (dtype kept, text as object with None, no crash on empty tables).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from oligomet._pandas_compat import as_object_text, is_text, lookup
from oligomet.endpoints import derive_endpoints
from oligomet.endpoints.origin import ORIGINS
from oligomet.registry import validate


@pytest.fixture(scope="module")
def registry():
    from oligomet.datasets import synthetic_registry

    return synthetic_registry(80, seed=5)


def test_lookup_into_an_empty_date_table_keeps_the_date_dtype():
    keys = pd.Series(["L1", None, "L2"], index=[10, 11, 12], name="lesion_id")
    empty = pd.Series([], index=pd.Index([], dtype=object), dtype="datetime64[ns]")
    out = lookup(keys, empty)
    assert out.dtype == "datetime64[ns]"
    assert out.isna().all()
    assert list(out.index) == [10, 11, 12] and out.name == "lesion_id"


def test_lookup_matches_map_when_the_table_has_rows():
    keys = pd.Series(["b", "z", None, "a"])
    table = pd.Series(pd.to_datetime(["2020-01-02", "2021-03-04"]), index=["a", "b"])
    out = lookup(keys, table)
    pd.testing.assert_series_equal(out, keys.map(table))
    assert out[0] == pd.Timestamp("2021-03-04") and out[3] == pd.Timestamp("2020-01-02")
    assert out[[1, 2]].isna().all()


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_text_becomes_object_with_none_for_missing(dtype):
    s = pd.Series(["a", None, "b"], dtype=dtype)
    assert is_text(s)
    out = as_object_text(s)
    assert out.dtype == object
    assert out.tolist() == ["a", None, "b"]
    assert not is_text(pd.Series([1.0, np.nan]))


def test_as_object_text_does_not_write_into_its_input():
    s = pd.Series(["a", np.nan], dtype=object)
    as_object_text(s)
    assert s.isna().tolist() == [False, True] and s[1] is not None


def test_derived_text_columns_are_object_with_none(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = derive_endpoints(registry)
    for c in ("origin", "index_modality", "ras", "first_local_modality", "sex"):
        assert d[c].dtype == object, c
    missing = d["index_modality"].isna()
    assert missing.any() and all(v is None for v in d.loc[missing, "index_modality"])


@pytest.mark.parametrize("empty", ["treatments", "lesions"])
@pytest.mark.parametrize("level", ["patient", "lesion"])
def test_a_registry_without_treatments_or_lesions_still_derives(registry, empty, level):
    tables = dict(registry)
    tables[empty] = registry[empty].iloc[:0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for origin in ORIGINS:
            full = derive_endpoints(registry, origin=origin, level=level)
            d = derive_endpoints(tables, origin=origin, level=level)
            assert list(d.columns) == list(full.columns)
            if level == "patient":
                assert len(d) == len(registry["patients"])
            if empty == "treatments":
                # no local treatment: no lesion rows, and no patient has an index treatment
                assert len(d) == 0 if level == "lesion" else d["index_treatment_id"].isna().all()
            else:
                # lesion rows come from treatments.lesion_ids; their lesion details are now unknown
                assert len(d) == len(full)
                assert d["max_diameter_mm" if level == "patient" else "organ"].isna().all()


def test_validation_of_complications_without_treatments_reports_unknown_references(registry):
    tables = dict(registry)
    tables["treatments"] = registry["treatments"].iloc[:0]
    problems = validate(tables).problems
    comp = problems[(problems["table"] == "complications") & (problems["rule"] == "unknown_reference")]
    assert len(comp) == len(registry["complications"]) > 0


def test_duplicate_patient_ids_are_reported_under_copy_on_write(registry):
    tables = dict(registry)
    tables["patients"] = pd.concat([registry["patients"], registry["patients"].iloc[:1]])
    problems = validate(tables).problems
    dup = problems[problems["rule"].isin(["duplicate_id", "conflicting_birth_year"])]
    assert set(dup["patient_id"]) == {registry["patients"]["patient_id"].iloc[0]}
    assert len(dup) == 2


@pytest.mark.parametrize("dtype", [object, "str"])
def test_a_yes_no_binary_covariate_becomes_one_zero_whatever_the_text_dtype(dtype):
    from oligomet.study.protocol_source import loads
    from oligomet.study.run import _prepare_covariates

    proto = loads('title="t"\nname="t"\n[data]\nsynthetic={n_patients=1}\n[[endpoints]]\nname="os"\n'
                  '[[covariates]]\ncolumn="b"\ntype="binary"\n', "toml")
    frame = pd.DataFrame({"b": pd.Series(["yes", "no", None, "yes"], dtype=dtype)})
    out = _prepare_covariates(frame, proto)["b"]
    assert out.dtype == np.float64
    assert out.iloc[[0, 1, 3]].tolist() == [1.0, 0.0, 1.0] and np.isnan(out.iloc[2])


@pytest.mark.parametrize("instance", ["1e309", "1e20"])
def test_a_huge_or_infinite_redcap_instance_is_reported_not_cast(tmp_path, instance):
    # pandas 3 parses "1e309" as inf (pandas 2: missing); either must not reach the Int64 casts
    # ("cannot convert float infinity to integer", or a silent wrap to -2^63 in the lesion id).
    from pathlib import Path

    from oligomet.registry import check_registry

    red = pd.read_csv(Path(__file__).parent / "registry" / "data" / "redcap_clean.csv", dtype=str,
                      keep_default_na=False)
    row = int(np.flatnonzero(red["redcap_repeat_instrument"] == "lesions")[0])
    red.loc[row, "redcap_repeat_instance"] = instance
    path = tmp_path / "export.csv"
    red.to_csv(path, index=False)
    tables, report = check_registry(path, format="redcap")
    bad = report.problems[report.problems["rule"] == "redcap_missing_instance"]
    assert len(bad) == 1 and bad["value"].iloc[0] == instance
    assert len(tables["lesions"]) == (red["redcap_repeat_instrument"] == "lesions").sum() - 1
    assert not tables["lesions"]["lesion_id"].astype(str).str.contains("9223372036854775808").any()
