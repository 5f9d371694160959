"""Evidence: the seed records reproduce the issue's numbers exactly; fit criterion by criterion;
supporting / contrasting / inconclusive on constructed effects; a study's results.json as evidence."""
import json

import pytest

from oligomet.board.evidence import (EvidenceRecord, appraise, classify, cross_check, load_evidence,
                                     population_fit, record_from_results_json)
from oligomet.board.rules import RuleError, load_rulesets, load_vocabulary

VOCAB = load_vocabulary()
RECORDS = load_evidence()


def facts(**known):
    f = dict.fromkeys(VOCAB)
    f.update(known)
    return f


def test_seed_numbers_exactly_as_published():
    r = RECORDS
    assert (r["crlm-er-repeat-local-os"].effect, r["crlm-er-repeat-local-os"].ci) == (0.42, (0.25, 0.72))
    assert r["crlm-er-repeat-local-os"].adjusted is True and r["crlm-er-repeat-local-os"].endpoint == "OS"
    assert (r["crlm-er-neoadjuvant-pfs"].effect, r["crlm-er-neoadjuvant-pfs"].ci) == (0.36, (0.15, 0.86))
    assert r["crlm-er-neoadjuvant-pfs"].endpoint == "PFS"
    dfs, os_ = r["crlm-ablation-upfront-dfs"], r["crlm-ablation-upfront-os"]
    assert (dfs.option_value, dfs.comparator_value, dfs.p) == (0.36, 0.21, 0.02)
    assert (os_.option_value, os_.comparator_value, os_.p) == (0.64, 0.59, 0.49)
    sal = r["lung-salvage-os"]
    assert (sal.effect, sal.ci) == (71.0, (50.0, 92.0))
    assert sal.safety == {"clavien_dindo_3_or_worse": 0.20, "mortality_90_day": 0.0}
    assert r["sts-size-dfs"].effect == 2.60 and r["sts-size-os"].effect == 5.6
    assert r["sts-tfi-os"].effect == 0.42
    assert (r["sts-periop-dfs"].effect, r["sts-periop-dfs"].p) == (0.29, 0.063)
    # what the summary does not say stays unsaid
    assert r["crlm-ablation-upfront-dfs"].adjusted is None and r["sts-size-dfs"].n is None


def test_rules_and_evidence_cross_reference():
    assert cross_check(load_rulesets(), RECORDS) == []


def test_ablation_supports_upfront_on_dfs_inconclusive_on_os():
    opt = "upfront thermal ablation, then systemic therapy"
    assert classify(RECORDS["crlm-ablation-upfront-dfs"], opt)[0] == "supporting"
    assert classify(RECORDS["crlm-ablation-upfront-os"], opt)[0] == "inconclusive"
    # seen from the comparator's side, the DFS result contrasts
    assert classify(RECORDS["crlm-ablation-upfront-dfs"], "systemic therapy, then ablation")[0] == "contrasting"


def _hr(effect, lo, hi, p=None):
    return EvidenceRecord(id="x", source="t", kind="comparison", endpoint="OS", measure="HR", option="A",
                          comparator="B", effect=effect, ci=(lo, hi) if lo is not None else None, p=p)


@pytest.mark.parametrize("effect, lo, hi, for_a, for_b", [
    (0.5, 0.3, 0.9, "supporting", "contrasting"),
    (1.8, 1.2, 2.5, "contrasting", "supporting"),
    (0.8, 0.5, 1.2, "inconclusive", "inconclusive"),
    (0.8, 0.6, 1.0, "inconclusive", "inconclusive"),     # touching 1 is not wholly below it
])
def test_classification_on_constructed_hazard_ratios(effect, lo, hi, for_a, for_b):
    rec = _hr(effect, lo, hi)
    assert classify(rec, "A")[0] == for_a and classify(rec, "B")[0] == for_b
    assert classify(rec, "C")[0] == "not applicable"


def test_classification_without_ci_uses_p_and_single_arm_is_inconclusive():
    assert classify(_hr(0.29, None, None, p=0.063), "A")[0] == "inconclusive"
    assert classify(_hr(0.29, None, None, p=0.01), "A")[0] == "supporting"
    assert classify(_hr(0.29, None, None), "A")[0] == "inconclusive"
    sal = RECORDS["lung-salvage-os"]
    assert classify(sal, sal.option)[0] == "inconclusive"


def test_population_fit_criterion_by_criterion():
    rec = RECORDS["crlm-ablation-upfront-dfs"]
    fit = population_fit(rec, facts(primary_site="colorectal", liver_resectable=False, liver_n=4))
    status = [r["status"] for r in fit]
    assert status == ["fits", "fits", "outside", "unknown"]
    assert fit[3]["missing"] == ["liver_largest_mm"]


def test_appraise_rows_per_option():
    f = facts(primary_site="colorectal", liver_recurrence=True, liver_recurrence_months=3.0)
    t = appraise(RECORDS, f, ["neoadjuvant systemic therapy, then repeat local treatment of the liver",
                              "repeat local treatment of the liver (resection or ablation)"])
    rows = t[t["record"] == "crlm-er-neoadjuvant-pfs"].set_index("option")["classification"].to_dict()
    assert rows == {"neoadjuvant systemic therapy, then repeat local treatment of the liver": "supporting",
                    "repeat local treatment of the liver (resection or ablation)": "contrasting"}
    er = t[t["record"] == "crlm-er-repeat-local-os"].iloc[0]
    assert er["fit"] == "fits" and er["classification"] == "supporting"
    assert t[t["record"] == "sts-size-os"].iloc[0]["fit"] == "outside"


def test_results_json_registered_as_evidence(tmp_path):
    doc = {"title": "Local CRLM study", "numbers": {"cox": {"os": {"multivariable": {
        "exposure[Repeat local treatment]": {"hr": 0.55, "hr_lower": 0.40, "hr_upper": 0.76, "p": 0.0003,
                                             "n": 812}}}}}}
    p = tmp_path / "results.json"
    p.write_text(json.dumps(doc))
    rec = record_from_results_json(p, id="local-er", number="cox.os.multivariable.exposure[Repeat local treatment]",
                                   option="repeat local treatment of the liver (resection or ablation)",
                                   comparator="systemic therapy", endpoint="OS",
                                   population={"fact": "liver_recurrence", "is": True})
    assert rec.effect == 0.55 and rec.ci == (0.40, 0.76) and rec.n == 812 and rec.adjusted is True
    assert classify(rec, "systemic therapy")[0] == "contrasting"
    with pytest.raises(ValueError, match="numbers.cox.pfs not found"):
        record_from_results_json(p, id="y", number="cox.pfs.multivariable.x", option="a", comparator="b",
                                 endpoint="PFS")


def test_bad_evidence_file_reports_line(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('[[record]]\nid = "a"\nkind = "comparison"\nmeasure = "HR"\neffect = 0.5\n'
                 'population = {fact = "liver_nn", "<" = 3}\noption = "x"\ncomparator = "y"\n')
    with pytest.raises(RuleError) as exc:
        load_evidence(p, VOCAB)
    assert exc.value.problems[0][1] == 6 and "unknown fact 'liver_nn'" in exc.value.problems[0][2]
