"""The last date known alive, computed on integer positions, equals the plain groupby-max over every dated
record (the definition), including patients without records and records of unknown patients."""
from __future__ import annotations

import pandas as pd

from oligomet.datasets import synthetic_registry
from oligomet.endpoints.followup import last_record_date


def _by_groupby(index: pd.Index, tables: dict[str, pd.DataFrame]) -> pd.Series:
    owner = tables["treatments"].set_index("treatment_id")["patient_id"]
    parts = [(tables["treatments"]["patient_id"], tables["treatments"][c]) for c in ("start_date", "end_date")]
    parts += [(tables[n]["patient_id"], tables[n]["date"]) for n in ("events", "labs", "mdt_decisions")]
    parts.append((tables["lesions"]["patient_id"], tables["lesions"]["detection_date"]))
    comp = tables["complications"]
    parts.append((comp["treatment_id"].map(owner), comp["date"]))
    rec = pd.concat([pd.DataFrame({"p": p.to_numpy(), "d": d.to_numpy()}) for p, d in parts]).dropna()
    return rec.groupby("p")["d"].max().reindex(index).astype("datetime64[ns]")


def test_positions_agree_with_the_groupby_definition():
    tables = synthetic_registry(400, seed=3)
    ids = tables["patients"]["patient_id"]
    # a patient with no record at all, and records of a patient missing from the index
    index = pd.Index(list(ids.iloc[1:]) + ["NO-RECORDS"])
    got = last_record_date(index, tables)
    want = _by_groupby(index, tables)
    pd.testing.assert_series_equal(got, want, check_names=False)
    assert pd.isna(got["NO-RECORDS"])


def test_a_repeated_patient_index_takes_the_groupby_path():
    tables = synthetic_registry(100, seed=4)
    ids = list(tables["patients"]["patient_id"])
    index = pd.Index(ids + ids[:3])
    pd.testing.assert_series_equal(last_record_date(index, tables), _by_groupby(index, tables), check_names=False)
