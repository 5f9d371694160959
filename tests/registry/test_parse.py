"""Cell parsing: accepted date formats, numbers, yes/no, codes, lists."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oligomet.registry.fields import TABLES
from oligomet.registry.parse import check_date_format, parse_dates, parse_field


def _dates(values, fmt=None):
    s = pd.Series(values, dtype="string")
    return parse_dates(s, check_date_format(fmt))


def test_iso_dates_and_times_are_accepted():
    d, rule = _dates(["2020-01-31", "2020-2-3", "2020-01-31 14:05", "2020-01-31T14:05:09", "2020-01-31 00:00:00",
                      None])
    assert list(d.dt.strftime("%Y-%m-%d")[:5]) == ["2020-01-31", "2020-02-03", "2020-01-31", "2020-01-31",
                                                   "2020-01-31"]
    assert pd.isna(d[5]) and rule.isna().all()


def test_day_month_dates_need_a_declared_order():
    d, rule = _dates(["03/04/2020", "25/04/2020", "04-25-2020"])
    assert list(rule) == ["date_ambiguous", "date_unparseable", "date_unparseable"]
    assert d.isna().all()


@pytest.mark.parametrize("fmt, value, iso", [
    ("DD/MM/YYYY", "03/04/2020", "2020-04-03"), ("DD-MM-YYYY", "3-4-2020", "2020-04-03"),
    ("DD.MM.YYYY", "03.04.2020", "2020-04-03"), ("MM/DD/YYYY", "03/04/2020", "2020-03-04"),
    ("MM/DD/YYYY", "2020-03-04", "2020-03-04"),  # ISO stays accepted with any declared order
])
def test_declared_order(fmt, value, iso):
    d, rule = _dates([value], fmt)
    assert rule.isna().all() and d[0] == pd.Timestamp(iso)


def test_invalid_and_out_of_range_dates():
    d, rule = _dates(["2019-02-29", "2020-13-01", "31/02/2020", "1850-01-01", "2150-01-01", "tomorrow", "43831"],
                     "DD/MM/YYYY")
    assert list(rule) == ["date_unparseable", "date_unparseable", "date_unparseable", "date_out_of_range",
                          "date_out_of_range", "date_unparseable", "date_unparseable"]
    assert d.isna().all()


def test_unknown_date_format_option():
    with pytest.raises(ValueError, match="date_format 'YYYY/DD/MM' is not supported"):
        check_date_format("YYYY/DD/MM")


def _rules(rule):
    return [None if pd.isna(r) else r for r in rule]


def _field(table, name):
    return TABLES[table].get(name)


def test_numbers():
    v, rule, msg = parse_field(pd.Series(["3", "3.0", "2.5", "x", "", None, "999999999999999999999"]),
                               _field("treatments", "fractions"), None)
    assert list(v[:2]) == [3, 3] and v.dtype == "Int64"
    assert _rules(rule) == [None, None, "not_an_integer", "not_an_integer", None, None, "not_an_integer"]
    v, rule, msg = parse_field(pd.Series(["12.5", "12,5", "inf", "1e2"]), _field("lesions", "diameter_mm"), None)
    assert v[0] == 12.5 and v[3] == 100.0 and v.dtype == "float64"
    assert _rules(rule) == [None, "not_a_number", "not_a_number", None]
    assert "decimal point" in msg[1]


def test_booleans():
    v, rule, _ = parse_field(pd.Series(["1", "Yes", "false", "N", "maybe", None]),
                             _field("patients", "node_positive"), None)
    assert list(v[:4]) == [True, True, False, False] and pd.isna(v[4]) and pd.isna(v[5])
    assert _rules(rule) == [None] * 4 + ["not_a_boolean", None]


def test_codes_forgive_case_spaces_and_hyphens_only():
    v, rule, _ = parse_field(pd.Series(["Minimally invasive", "minimally-invasive", "OPEN", "laparoscopic"]),
                             _field("treatments", "approach"), None)
    assert list(v) == ["minimally_invasive", "minimally_invasive", "open", "laparoscopic"]
    v, _, _ = parse_field(pd.Series(["iiia", "r0"]), _field("complications", "clavien_dindo"), None)
    assert v[0] == "IIIa"


def test_lists():
    v, _, _ = parse_field(pd.Series(["L1; L2", "L1,L2", "L3;", ""]), _field("treatments", "lesion_ids"), None)
    assert list(v[:3]) == ["L1;L2", "L1;L2", "L3"] and v[3] is None


# --- issue 15 part 4: what a new user hit ---------------------------------------------------------

def test_impossible_calendar_dates_say_so():
    from oligomet.registry.fields import Field
    from oligomet.registry.parse import parse_field

    raw = pd.Series(["2019-02-30", "31-04-2020", "2020-02-29", "2019-13-01"])
    values, rule, msg = parse_field(raw, Field("d", "date"), "dmy")
    assert [r if isinstance(r, str) else None for r in rule] == ["date_unparseable", "date_unparseable", None,
                                                                 "date_unparseable"]
    assert msg[0].startswith("30 February 2019 does not exist (February 2019 has 28 days)")
    assert msg[1].startswith("31 April 2020 does not exist")
    assert "accepted format" in msg[3]          # month 13 is not a calendar slip
    assert values[2] == pd.Timestamp("2020-02-29")


def test_date_order_is_inferred_when_values_settle_it_and_only_then():
    from oligomet.registry.parse import infer_date_order

    assert infer_date_order(pd.DataFrame({"a": ["03-04-2016", "15-01-2016"]}), ["a"]) == "dmy"
    assert infer_date_order(pd.DataFrame({"a": ["03/04/2016"], "b": ["01/15/2016"]}), ["a", "b"]) == "mdy"
    assert infer_date_order(pd.DataFrame({"a": ["03-04-2016", "05-06-2017"]}), ["a"]) is None
    assert infer_date_order(pd.DataFrame({"a": ["15-01-2016", "01-15-2016"]}), ["a"]) is None   # contradictory


def test_decimal_comma_read_when_declared_and_sbrt_is_sabr():
    from oligomet.registry.fields import TABLES
    from oligomet.registry.parse import parse_field

    f = TABLES["lesions"].get("diameter_mm")
    values, rule, _ = parse_field(pd.Series(["12,5", "3", "1.234,5"]), f, None, decimal=",")
    assert values[0] == 12.5 and values[1] == 3.0 and list(rule.fillna("ok")) == ["ok", "ok", "not_a_number"]
    _, rule, msg = parse_field(pd.Series(["12,5"]), f, None)
    assert rule[0] == "not_a_number" and "decimal: ','" in msg[0]
    modality = TABLES["treatments"].get("modality")
    values, _, _ = parse_field(pd.Series(["SBRT", "sabr", "Radiofrequency ablation"]), modality, None)
    assert list(values) == ["sabr", "sabr", "rfa"]


def test_semicolon_csv_reads_decimal_commas(tmp_path):
    from oligomet.registry import read_registry, write_registry

    tables, _ = read_registry(Path(__file__).parent / "data" / "clean")
    write_registry(tables, tmp_path / "reg")
    for name in ("lesions",):
        path = tmp_path / "reg" / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["diameter_mm"] = frame["diameter_mm"].str.replace(".", ",", regex=False)
        frame.to_csv(path, sep=";", index=False)
    again, report = read_registry(tmp_path / "reg")
    assert report.errors.empty
    pd.testing.assert_series_equal(again["lesions"]["diameter_mm"].reset_index(drop=True),
                                   tables["lesions"]["diameter_mm"].reset_index(drop=True))
