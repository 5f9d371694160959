"""The shortcuts inside ``derive_endpoints`` give what the general code gives.

* treatments already in (patient, day, priority) order are not sorted again, others are (any row order of
  any table gives the same frame);
* complications find their treatment by row when treatment ids are distinct (``_ids.treatment_rows``), by id
  otherwise; both count the same complications;
* the patient ids are checked through their coding; the errors stay the same, in the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet
from oligomet.datasets.synthetic import synthetic_registry
from oligomet.endpoints import _ids
from oligomet.endpoints import derive as D
from oligomet.endpoints.origin import MODALITY_PRIORITY, _natural_rank, _ordered_treatments
from oligomet.registry.fields import MODALITY


@pytest.fixture(scope="module")
def reg():
    return synthetic_registry(1500, seed=5)


def _shuffled(reg, seed=1):
    rng = np.random.default_rng(seed)
    return {k: v.iloc[rng.permutation(len(v))] for k, v in reg.items()}


@pytest.mark.parametrize("kw", [{}, {"origin": "first_recurrence"}, {"origin": "mdt_decision", "unit": "days"}])
def test_row_order_of_the_tables_changes_nothing(reg, kw):
    """(The patient level; at the lesion level ``split_ids`` puts a treatment's lesions back in table order.)"""
    plain = oligomet.derive_endpoints(reg, **kw)
    mixed = oligomet.derive_endpoints({**_shuffled(reg), "patients": reg["patients"]}, **kw)
    pd.testing.assert_frame_equal(mixed, plain, check_exact=True)


def _lexsorted(treatments: pd.DataFrame) -> pd.DataFrame:
    """The order by its definition: np.lexsort on patient (first appearance), day, priority, natural id."""
    t = treatments.dropna(subset=["start_date"])
    prio = t["modality"].map(MODALITY_PRIORITY).fillna(len(MODALITY_PRIORITY)).astype(int).to_numpy()
    pcode = pd.factorize(t["patient_id"])[0]
    day = t["start_date"].dt.normalize().to_numpy().astype("int64")
    tied = pd.DataFrame({"p": pcode, "d": day, "r": prio}).duplicated(keep=False).to_numpy()
    tid = np.zeros(len(t), dtype=np.int64)
    if tied.any():
        tid[tied] = _natural_rank(t["treatment_id"][tied])
    return t.iloc[np.lexsort((tid, prio, day, pcode))].assign(_priority=prio[np.lexsort((tid, prio, day, pcode))])


@pytest.mark.parametrize("seed", [None, 2, 3])
def test_treatment_order_as_lexsort(reg, seed):
    t = reg["treatments"].copy()
    t["patient_id"] = pd.factorize(t["patient_id"])[0].astype(float)   # coded, as inside derive_endpoints
    if seed is not None:
        t = t.iloc[np.random.default_rng(seed).permutation(len(t))]
    # same-day ties broken by the natural order of ids, and a patient missing its id
    t.loc[t.index[:40], "start_date"] = t["start_date"].iloc[0]
    t.loc[t.index[:40], "patient_id"] = t["patient_id"].iloc[0]
    t.loc[t.index[40:45], "patient_id"] = np.nan
    got = _ordered_treatments(t)
    want = _lexsorted(t)
    pd.testing.assert_frame_equal(got.drop(columns="_modality"), want, check_exact=True)
    # the modality as its position in the code list (-1: missing or not a code)
    code = want["modality"].map({m: i for i, m in enumerate(MODALITY)}).fillna(-1).astype(np.int8)
    np.testing.assert_array_equal(got["_modality"].to_numpy(), code.to_numpy())


def _by_id(monkeypatch):
    monkeypatch.setattr(D, "treatment_rows", lambda treatments, complications: None)


@pytest.mark.parametrize("kw", [{}, {"origin": "mdt_decision"}, {"data_lock": "2018-06-30"}])
def test_complications_by_row_as_by_id(reg, kw, monkeypatch):
    reg = dict(reg)
    comp = reg["complications"]
    extra = comp.head(4).assign(treatment_id=["nobody", None, "nobody", None])   # unknown and missing ids
    reg["complications"] = pd.concat([comp, extra], ignore_index=True)
    fast = oligomet.derive_endpoints(reg, **kw)
    few = {**reg, "patients": reg["patients"].iloc[::3]}   # the others' treatments are out of scope
    fast_few = oligomet.derive_endpoints(few, **kw)
    _by_id(monkeypatch)
    pd.testing.assert_frame_equal(fast, oligomet.derive_endpoints(reg, **kw), check_exact=True)
    pd.testing.assert_frame_equal(fast_few, oligomet.derive_endpoints(few, **kw), check_exact=True)
    assert fast["n_complications"].sum() > 100


def test_treatment_rows_only_for_distinct_present_ids():
    t = np.array(["T1", "T2", "T3"], dtype=object)
    c = np.array(["T3", None, "T9", "T1"], dtype=object)
    assert list(_ids.treatment_rows(t, c)) == [2, -1, -1, 0]
    assert _ids.treatment_rows(np.array(["T1", "T1"], dtype=object), c) is None
    assert _ids.treatment_rows(np.array(["T1", None], dtype=object), c) is None


def test_a_treatment_without_id_is_matched_by_id(reg):
    """A complication without treatment id belongs to the treatment without id (as ``map`` matches them): its
    date proves that patient alive (it is no complication of an index procedure: those need an id)."""
    reg = dict(reg)
    t = reg["treatments"].copy()
    alive = set(reg["patients"].loc[reg["patients"]["death_date"].isna(), "patient_id"])
    first = t.index[t["patient_id"].isin(alive)][0]
    t.loc[first, "treatment_id"] = None
    reg["treatments"] = t
    late = pd.Timestamp("2030-01-01")
    reg["complications"] = pd.DataFrame({"treatment_id": [None], "date": [late], "clavien_dindo": ["IIIb"],
                                         "description": [None]}, dtype=object)
    frame = oligomet.derive_endpoints(reg)
    assert (frame.loc[frame["patient_id"] == t.loc[first, "patient_id"], "followup_date"] == late).all()
    assert (frame["followup_date"] == late).sum() == 1


@pytest.mark.parametrize("lock", [None, "01-02-2020"])
def test_patient_id_errors_first_then_the_lock(reg, lock):
    pts = reg["patients"]
    dup = {**reg, "patients": pd.concat([pts, pts.iloc[[3, 7]]], ignore_index=True)}
    with pytest.raises(ValueError, match=r"duplicate patient_id \['SYN-"):
        oligomet.derive_endpoints(dup, data_lock=lock)
    gap = {**reg, "patients": pts.assign(patient_id=pts["patient_id"].where(pts.index != 4))}
    with pytest.raises(ValueError, match=r"missing patient_id at rows \[4\]"):
        oligomet.derive_endpoints(gap, data_lock=lock)
    if lock is not None:
        with pytest.raises(ValueError, match="data lock"):
            oligomet.derive_endpoints(reg, data_lock=lock)


def test_whole_days_as_dt_days():
    rng = np.random.default_rng(0)
    a = pd.Series(pd.to_datetime(rng.integers(-2 * 10**18, 2 * 10**18, 5000)))
    b = pd.Series(pd.to_datetime(rng.integers(-2 * 10**18, 2 * 10**18, 5000)))
    a[::7], b[::5] = pd.NaT, pd.NaT
    got = _ids.whole_days(_ids.nanos(a), _ids.nanos(b))
    np.testing.assert_array_equal(got, (b - a).dt.days.to_numpy(dtype=float))


def test_death_within_by_its_definition():
    rng = np.random.default_rng(1)
    proc = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 200, 3000), unit="D")
                     + pd.to_timedelta(rng.integers(0, 86400, 3000), unit="s"))
    fu = pd.DataFrame({"fu_date": proc + pd.to_timedelta(rng.integers(-5, 200, 3000), unit="D"),
                       "dead": rng.random(3000) < 0.5})
    proc[::11] = pd.NaT
    fu.loc[fu.index[::13], "fu_date"] = pd.NaT
    from oligomet.endpoints.survival_endpoints import death_within
    for days in (30, 90):
        delta = (fu["fu_date"] - proc).dt.days
        dead_in = fu["dead"] & (delta <= days)
        known = proc.notna() & fu["fu_date"].notna() & (dead_in | (delta >= days) | (fu["dead"] & (delta > days)))
        want = pd.Series(pd.NA, index=proc.index, dtype="boolean")
        want[known.to_numpy()] = dead_in[known].to_numpy()
        pd.testing.assert_series_equal(death_within(days, proc, fu), want)


def test_any_known_reads_boolean_and_object_flags_alike():
    from oligomet.endpoints.treatment_detail import _any_known
    flags = [True, False, None, True, False, None, False]
    pos = np.array([0, 0, 1, 2, 2, 3, -1])
    rows = np.array([True, True, True, False, True, True, True])
    got = [_any_known(pd.Series(flags, dtype=d), pos, rows, 5) for d in ("boolean", object)]
    got.append(_any_known(pd.Series([1.0, 0.0, np.nan, 1.0, 0.0, np.nan, 0.0]), pos, rows, 5))
    for g in got:
        assert [None if pd.isna(x) else bool(x) for x in g] == [True, None, False, None, None]


def test_text_columns_as_as_object_text():
    from oligomet._pandas_compat import as_object_text

    nat = np.datetime64("NaT", "ns")
    for values in (["a", "b"], ["a", None], ["a", np.nan, None], ["a", pd.NaT, nat, float("nan")], ["a", pd.NA],
                   [1, None, "x"], [None, None], []):
        s = pd.Series(values, dtype=object, name="c", index=range(10, 10 + len(values)))
        got, want = D._object_text(s), as_object_text(s)
        pd.testing.assert_series_equal(got, want)
        assert [type(v) for v in got] == [type(v) for v in want]
    s = pd.Series(["a", None], dtype="str")
    pd.testing.assert_series_equal(D._object_text(s), as_object_text(s))


def test_index_day_procedures_by_row_as_by_id(reg):
    tb, idx, _, _ = D._coded(D._load(reg), None)
    t = _ordered_treatments(tb["treatments"])
    from oligomet.endpoints.origin import index_day_mask, resolve_origin

    for kw in ({}, {"index_modalities": ["resection"]}, {"index_intents": ["salvage"]}):
        _, index = resolve_origin("index_treatment", tb["patients"].set_axis(idx), {**tb, "treatments": t}, **kw)
        np.testing.assert_array_equal(index_day_mask(index, t, distinct_ids=True), index_day_mask(index, t))


def test_modality_rows_as_isin(reg):
    from oligomet.endpoints.origin import modality_rows

    t = reg["treatments"].copy()
    t.loc[t.index[:3], "modality"] = ["weird", None, np.nan]
    o = _ordered_treatments(t)
    for mods in (("systemic",), ("rfa", "mwa"), ("resection", "sabr", "tace"), (), ("weird",)):
        np.testing.assert_array_equal(modality_rows(o, mods), o["modality"].isin(mods).to_numpy())


def test_adverse_events_without_grade_are_neither_read_nor_checked(reg):
    ae = reg["adverse_events"].astype({"grade": object, "drug_related": object})
    ae.loc[ae.index[:5], "grade"] = None
    ae.loc[ae.index[:5], "drug_related"] = "maybe"   # not a yes/no, but of an event without grade
    frame = oligomet.derive_endpoints({**reg, "adverse_events": ae})
    plain = oligomet.derive_endpoints({**reg, "adverse_events": ae.iloc[5:]})
    pd.testing.assert_frame_equal(frame, plain, check_exact=True)
    ae.loc[ae.index[7], "grade"] = 9
    with pytest.raises(ValueError, match=r"CTCAE grade not 1-5 at rows \[7\] \(e.g. 9\)"):
        oligomet.derive_endpoints({**reg, "adverse_events": ae})
