"""The rule engine and checker: Table 4 of the 2019 consensus cell by cell, its footnotes, the
study suggestions, missing facts, and the checker on planted gaps, conflicts and bad rule files."""
from pathlib import Path

import pytest

from oligomet.board.rules import RuleError, advise, check, load_rulesets, load_ruleset, load_vocabulary

VOCAB = load_vocabulary()
RULESETS = load_rulesets()


def facts(**known):
    f = dict.fromkeys(VOCAB)
    f.update(known)
    return f


def crc_both(**known):
    return facts(primary_site="colorectal", lung_mets=True, liver_mets=True, **known)


def fired(advice, layer):
    return [f.rule.id for f in advice.fired if f.rule.layer == layer]


def first_option(advice, layer):
    (rule,) = [f.rule for f in advice.fired if f.rule.layer == layer]
    return rule.options[0]


@pytest.mark.parametrize("lung, liver, rule, option", [
    (True, True, "T4-both-curable", "staged radical local treatment of the primary, the lung and the liver "
                                    "metastases, with 6 months of perioperative systemic therapy"),
    (True, False, "T4-lung-curable-liver-incurable", "systemic therapy"),
    (False, True, "T4-lung-incurable-liver-curable",
     "effective systemic therapy, then elective radical local treatment of the liver metastases"),
    (False, False, "T4-both-incurable", "systemic therapy"),
])
def test_table4_cell(lung, liver, rule, option):
    a = advise(crc_both(lung_curable=lung, liver_curable=liver), RULESETS)
    assert fired(a, "strategy") == [rule]
    assert first_option(a, "strategy") == option
    assert a.recommendation[0] == option
    used = next(f.facts for f in a.fired if f.rule.id == rule)
    assert used["lung_curable"] is lung and used["liver_curable"] is liver


def test_table4_does_not_apply_outside_its_scope():
    a = advise(facts(primary_site="colorectal", lung_mets=True, liver_mets=False, lung_curable=True,
                     liver_curable=True), RULESETS)
    assert fired(a, "strategy") == [] and not any(u.rule.layer == "strategy" for u in a.undecided)


@pytest.mark.parametrize("harder, rule, first", [
    ("equal", "T4-fn1-equal-difficulty", "resect the liver metastases first, then the lung metastases"),
    ("lung", "T4-fn1-lung-harder", "resect the lung metastases first (the more difficult resection), "
                                   "then the liver metastases"),
    ("liver", "T4-fn1-liver-harder", "resect the liver metastases first (the more difficult resection), "
                                     "then the lung metastases"),
])
def test_footnote1_sequence(harder, rule, first):
    a = advise(crc_both(lung_curable=True, liver_curable=True, lung_resectable=True, liver_resectable=True,
                        harder_organ=harder), RULESETS)
    assert fired(a, "sequence") == [rule]
    assert first_option(a, "sequence") == first


def test_footnote1_names_the_missing_difficulty():
    a = advise(crc_both(lung_curable=True, liver_curable=True, lung_resectable=True, liver_resectable=True),
               RULESETS)
    assert fired(a, "sequence") == []
    assert "harder_organ" in a.missing
    assert "needs: which resection is more difficult (surgeon)" in a.needs()


def test_footnote2_sbrt_or_rfa_for_unresectable_lung():
    a = advise(crc_both(lung_curable=True, liver_curable=True, lung_resectable=False), RULESETS)
    assert fired(a, "lung_technique") == ["T4-fn2-lung-not-resectable"]
    rule = next(f.rule for f in a.fired if f.rule.layer == "lung_technique")
    assert rule.options == ("SBRT of the lung metastases", "radiofrequency ablation of the lung metastases")
    b = advise(crc_both(lung_curable=True, liver_curable=True, lung_resectable=True), RULESETS)
    assert fired(b, "lung_technique") == []


def test_footnote3_neoadjuvant_limited_when_liver_treated_locally():
    a = advise(crc_both(lung_curable=False, liver_curable=True), RULESETS)
    assert first_option(a, "neoadjuvant_duration") == "neoadjuvant systemic therapy limited to 2-3 months"
    b = advise(crc_both(lung_curable=False, liver_curable=False), RULESETS)
    assert fired(b, "neoadjuvant_duration") == []


def test_footnote4_regimen_factors_listed_and_missing_named():
    a = advise(crc_both(lung_curable=False, liver_curable=False, ecog=1, ras="mutant"), RULESETS)
    f = next(f for f in a.fired if f.rule.id == "T4-fn4-regimen-factors")
    assert set(f.missing_uses) == {"primary_sidedness", "braf", "tbs"}
    assert "needs: BRAF status" in a.needs()
    assert "ras" not in a.missing


def test_missing_curability_is_named_not_taken_as_false():
    a = advise(crc_both(lung_curable=True), RULESETS)
    assert fired(a, "strategy") == []
    assert "liver_curable" in a.missing and "lung_curable" not in a.missing
    assert "needs: liver metastases curable (MDT)" in a.needs()
    # lung_curable False already settles two cells: only the liver is still needed
    undecided = {u.rule.id: u.missing for u in a.undecided if u.rule.layer == "strategy"}
    assert set(undecided) == {"T4-both-curable", "T4-lung-curable-liver-incurable"}


@pytest.mark.parametrize("months, rule", [(3.0, "CRLM-ER-within-4m"), (4.0, "CRLM-ER-within-4m"),
                                          (8.0, "CRLM-ER-4-to-12m"), (12.0, "CRLM-ER-4-to-12m")])
def test_crlm_early_recurrence_suggestion(months, rule):
    a = advise(facts(primary_site="colorectal", liver_mets=True, liver_recurrence=True,
                     liver_recurrence_months=months, liver_resectable=True), RULESETS)
    assert fired(a, "crlm_recurrence") == [rule]


def test_crlm_late_recurrence_gets_no_suggestion_and_unknown_resectability_is_named():
    a = advise(facts(primary_site="colorectal", liver_recurrence=True, liver_recurrence_months=20.0,
                     liver_resectable=True), RULESETS)
    assert fired(a, "crlm_recurrence") == []
    b = advise(facts(primary_site="colorectal", liver_recurrence=True, liver_recurrence_months=6.0), RULESETS)
    assert fired(b, "crlm_recurrence") == []
    assert {"liver_resectable", "liver_ablatable"} <= set(b.missing)


def test_ablation_sarcoma_salvage_suggestions():
    a = advise(facts(primary_site="colorectal", liver_mets=True, liver_resectable=False, liver_n=3,
                     liver_largest_mm=29.0), RULESETS)
    assert fired(a, "crlm_ablation") == ["CRLM-ABL-upfront"]
    a = advise(facts(primary_site="colorectal", liver_mets=True, liver_resectable=False, liver_n=3,
                     liver_largest_mm=30.0), RULESETS)
    assert fired(a, "crlm_ablation") == []
    s = advise(facts(primary_site="sarcoma", lung_mets=True, lung_largest_mm=25.0, tfi_months=13.0), RULESETS)
    assert fired(s, "sarcoma_systemic") == ["STS-LUNG-over-2cm"]
    assert fired(s, "sarcoma_prognosis") == ["STS-LUNG-TFI-over-12m"]
    v = advise(facts(primary_site="colorectal", lung_mets=True, lung_lr_after_sabr=True, lung_resectable=True),
               RULESETS)
    assert fired(v, "lung_salvage") == ["LUNG-SALVAGE-after-SABR"]
    assert "fev1_pct" in v.missing


def test_seed_rules_check_clean_and_table4_covered_exactly_once():
    report = check(RULESETS)
    assert report.ok, report.lines()
    assert report.combinations > 0


def _write(tmp_path, rules: str, layer: str = 'complete = true\nscope = {fact = "primary_site", is = "colorectal"}'):
    p = tmp_path / "r.toml"
    p.write_text(f'[ruleset]\nid = "t"\nversion = "0"\n\n[layers.strategy]\n{layer}\n\n{rules}', encoding="utf-8")
    return p


RULE = """[[rule]]
id = "{id}"
version = 1
layer = "strategy"
source = {{document = "test"}}
when = {when}
options = ["{option}"]
"""


def test_checker_reports_a_planted_gap(tmp_path):
    p = _write(tmp_path, RULE.format(id="a", when='{all = [{fact = "lung_curable", is = true}, '
                                                  '{fact = "liver_curable", is = true}]}', option="x")
               + RULE.format(id="b", when='{fact = "lung_curable", is = false}', option="y"))
    report = check([load_ruleset(p, VOCAB)], VOCAB)
    assert [g[2] for g in report.gaps] == [{"liver_curable": False, "lung_curable": True,
                                           "primary_site": "colorectal"}]
    assert not report.conflicts and not report.ok


def test_checker_reports_a_planted_conflict(tmp_path):
    p = _write(tmp_path, RULE.format(id="a", when='{fact = "lung_curable", is = true}', option="x")
               + RULE.format(id="b", when='{fact = "liver_curable", is = true}', option="y")
               + RULE.format(id="c", when='{fact = "lung_curable", is = false}', option="z"))
    report = check([load_ruleset(p, VOCAB)], VOCAB)
    pairs = {(c[2], c[3]) for c in report.conflicts}
    assert pairs == {("a", "b"), ("b", "c")}
    ex = next(c[4] for c in report.conflicts if c[2] == "a")
    assert ex["lung_curable"] is True and ex["liver_curable"] is True
    assert any("conflict" in line for line in report.lines())


def test_checker_reports_an_unreachable_rule_and_numeric_boundaries(tmp_path):
    p = _write(tmp_path, RULE.format(id="a", when='{fact = "liver_n", "<=" = 3}', option="x")
               + RULE.format(id="b", when='{fact = "liver_n", ">" = 3}', option="y")
               + RULE.format(id="never", when='{all = [{fact = "liver_n", "<" = 2}, {fact = "liver_n", ">" = 5}]}',
                             option="z"))
    report = check([load_ruleset(p, VOCAB)], VOCAB)
    assert report.unreachable == (("t", "never"),)
    assert not report.gaps and not report.conflicts


def test_unknown_fact_in_rule_file_is_a_clear_error_with_line(tmp_path):
    p = _write(tmp_path, RULE.format(id="a", when='{fact = "lung_curable", is = true}', option="x")
               + RULE.format(id="b", when='{fact = "lung_curabel", is = false}', option="y"))
    with pytest.raises(RuleError) as exc:
        load_ruleset(p, VOCAB)
    (problem,) = exc.value.problems
    assert problem[0] == str(p)
    assert problem[1] == p.read_text().splitlines().index('when = {fact = "lung_curabel", is = false}') + 1
    assert "unknown fact 'lung_curabel'" in problem[2] and "lung_curable" in problem[2]


def test_rule_file_type_errors_all_reported(tmp_path):
    p = _write(tmp_path, RULE.format(id="a", when='{fact = "lung_curable", is = "yes"}', option="x")
               + RULE.format(id="b", when='{fact = "primary_site", "<" = 3}', option="y")
               + RULE.format(id="c", when='{fact = "primary_site", in = ["colorectal", "colon"]}', option="z")
               + RULE.format(id="d", when='{fact = "liver_n", is = 1, "<" = 3}', option="w"))
    with pytest.raises(RuleError) as exc:
        load_ruleset(p, VOCAB)
    text = str(exc.value)
    assert len(exc.value.problems) == 4
    assert "'lung_curable' is true or false" in text
    assert "'<' compares numbers" in text
    assert "'colon' is not a level of 'primary_site'" in text
    assert "exactly one comparison" in text


def test_rule_files_are_data_not_code():
    for path in Path(load_rulesets.__globals__["RULES_DIR"]).glob("*.toml"):
        text = path.read_text()
        for word in ("eval", "import", "lambda", "__"):
            assert word not in text, (path, word)
