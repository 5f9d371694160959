"""A protocol is data: nothing in it runs code, expands without bound, or is silently dropped.

Issue 16: D1 (expressions went to ``DataFrame.eval``), D10 (YAML alias bomb), D11 (duplicate YAML
keys), D22 (group names with both quote characters), D26 (deep nesting)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.endpoints.derive import derive_endpoints
from oligomet.expressions import ExpressionError, evaluate, parse_expression
from oligomet.study import ProtocolError, load_protocol, run_study
from oligomet.study.cohort import StudyError, analysis_frame, condition_mask
from oligomet.study.protocol import Condition, Derived
from oligomet.study.protocol_source import loads

from .conftest import EXAMPLES

HEAD = 'title = "t"\nname = "t"\n\n[data]\nsynthetic = { n_patients = 100 }\n\n[[endpoints]]\nname = "os"\n'
GROUPS = ('\n[exposure]\n[[exposure.groups]]\nname = "a"\nwhere = [{ column = "age", lt = 60 }]\n'
          '[[exposure.groups]]\nname = "b"\nwhere = [{ column = "age", min = 60 }]\n')


def payloads(marker):
    """(expression, a token the error must name): each would run `touch marker` under DataFrame.eval."""
    return [(f"@pd.io.common.os.system('touch {marker}')", "'@'"),
            (f"age.mean.__globals__['inspect'].os.system('touch {marker}')", "'.__globals__'"),
            (f"__import__('os').system('touch {marker}')", "'__import__'"),
            (f"age > 1 and (lambda: __import__('os').system('touch {marker}'))()", "'__import__'")]


# every place of a protocol where an expression is read: (TOML snippet, field path of the error)
PLACES = {
    "derive": ('\n[[derive]]\nname = "x"\nexpr = EXPR\n', "derive.0.expr"),
    "include": ('\n[[cohort.include]]\nexpr = EXPR\n', "cohort.include.0.expr"),
    "exclude": ('\n[[cohort.exclude]]\nexpr = EXPR\n', "cohort.exclude.0.expr"),
    "exposure where": ('\n[exposure]\n[[exposure.groups]]\nname = "a"\nwhere = [{ expr = EXPR }]\n'
                       '[[exposure.groups]]\nname = "b"\nwhere = [{ column = "age", min = 60 }]\n',
                       "exposure.groups.0.where.0.expr"),
    "subgroup where": (GROUPS + '\n[[analyses.subgroups]]\nname = "s"\nendpoints = ["os"]\n'
                                'where = [{ expr = EXPR }]\n', "analyses.subgroups.0.where.0.expr"),
}


def toml_string(text: str) -> str:
    return "'" + text + "'" if "'" not in text else '"' + text.replace('"', '\\"') + '"'


def line_of(text: str, snippet: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln)


@pytest.mark.parametrize("place", PLACES)
def test_code_in_any_protocol_expression_is_refused_naming_file_line_and_token(place, tmp_path):
    snippet, field = PLACES[place]
    runner = CliRunner()
    for i, (payload, token) in enumerate(payloads(tmp_path / "MARKER")):
        text = HEAD + snippet.replace("EXPR", toml_string(payload))
        path = tmp_path / f"p{i}.toml"
        path.write_text(text)
        with pytest.raises(ProtocolError) as info:
            load_protocol(path)
        ((got_field, got_line, msg),) = info.value.problems
        assert got_field == field and got_line == line_of(text, "MARKER")
        assert token in msg and f"{path}:{got_line}: {field}: not allowed" in str(info.value)
        res = runner.invoke(app, ["validate-protocol", str(path)])   # used to say "valid"
        assert res.exit_code == 1 and token in res.output and "Traceback" not in res.output
    assert not (tmp_path / "MARKER").exists()


def test_the_evaluator_refuses_code_even_when_validation_is_bypassed(tmp_path, monkeypatch):
    """Defense in depth: a Condition/Derived built without validation still never reaches eval."""
    import oligomet.endpoints.derive

    proto = loads(HEAD, "toml", path="p.toml")
    frame = pd.DataFrame({"patient_id": ["a", "b"], "age": [50.0, 70.0]})
    monkeypatch.setattr(oligomet.endpoints.derive, "derive_endpoints", lambda tables, **kw: frame.copy())
    for payload, token in payloads(tmp_path / "MARKER"):
        with pytest.raises(StudyError, match=re.escape(token)):
            condition_mask(frame, Condition.model_construct(expr=payload), proto, ("cohort", "include", 0))
        proto.derive = [Derived.model_construct(name="x", expr=payload)]
        with pytest.raises(StudyError, match=re.escape(token)):
            analysis_frame({}, proto)
        with pytest.raises(ExpressionError, match=re.escape(token)):
            evaluate(payload, frame)
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("text, token", [
    ("age[0]", "'[0]'"), ("age.max()", "'.max'"), ("open('/etc/passwd')", "'open('"),
    ("eval('1')", "'eval('"), ("age @ age", "'@'"), ("[x for x in age]", "comprehension"),
    ("(y := 1)", "':='"), ("f'{age}'", "f-string"), ("age > 1 & age < 3", "'&'"), ("~age", "'~'"),
    ("age if age else 1", "'if ... else'"), ("{'a': 1}", "a dict"), ("log(*age)", "starred"),
    ("log(age, base=2)", "log takes 1 argument"), ("age in age", "'in' takes a list"), ("age is None", "'is'"),
    ("__builtins__", "'__builtins__'"), ("`a b`.__class__", "'.__class__'"), ("b'x'", "not a number"),
])
def test_everything_outside_the_language_is_refused_with_its_token(text, token):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, source="rules.yaml:4")
    assert token in str(info.value) and str(info.value).startswith("rules.yaml:4: ")


@pytest.fixture(scope="module")
def frame(registry):
    return derive_endpoints(registry, origin="index_treatment")


LEGITIMATE = [
    "max_diameter_mm > 20", "tfi_months > 12", "recurrence_months <= 4", "recurrence_months >= 0",
    "index_approach == 'minimally_invasive'", "(age >= 70) and (ecog <= 1)", "(age < 50) or (cea > 5)",
    "not (age > 60)", "primary_site in ['colorectal', 'lung']", "primary_site not in ('colorectal',)",
    "0 < n_lesions <= 3", "age / 10", "-age + 2 * cea ** 2", "age // 7 % 3", "log(cea + 1)", "sqrt(tbs)",
    "abs(age - 60)", "exp(age / 100)", "log10(cea + 1)", "log1p(cea)", "death_90d == True",
    "sex != 'female'", "worst_clavien_dindo == 'IIIa'", "ecog", "index_date > '2015-01-01'",
]


@pytest.mark.parametrize("text", LEGITIMATE)
def test_legitimate_expressions_give_what_pandas_eval_gave(frame, text):
    """The expressions the protocols, tests and docs use give the same values as before (pandas'
    python-engine eval, run here on trusted text only as the reference)."""
    ours = evaluate(parse_expression(text), frame)
    before = frame.eval(text, engine="python")
    pd.testing.assert_series_equal(pd.Series(ours, index=frame.index), pd.Series(before, index=frame.index),
                                   check_names=False)


def test_missing_inputs_stay_unknown_and_isna_is_not_masked():
    f = pd.DataFrame({"x": pd.array([1, None, 3], dtype="Int64"), "y": [1.0, 2.0, np.nan],
                      "d0": pd.to_datetime(["2020-01-01", "2020-01-01", None]),
                      "d1": pd.to_datetime(["2020-03-01", "2021-01-01", "2020-01-01"])})
    def run(text):
        v = evaluate(parse_expression(text), f, propagate_missing=True)
        return [None if pd.isna(a) else a for a in v]
    assert run("x > 2 or y > 1") == [False, None, None]   # any missing input: unknown, as before
    assert run("x > 2") == [False, None, True]
    assert run("isna(y)") == [False, False, True]
    assert run("notna(y) and x >= 1") == [True, None, False]   # x missing in row 2: unknown; y only tested
    assert run("days_between(d0, d1)") == [60.0, 366.0, None]
    assert run("months_between(d0, d1)") == pytest.approx([60 / 30.4375, 366 / 30.4375, None])
    assert parse_expression("`tumour size` > 2 and notna(`a-b`)").names == ("tumour size", "a-b")


# --- D26: deep nesting ---------------------------------------------------------------------------

def test_100000_nested_brackets_give_a_located_error_not_a_recursion_error(tmp_path):
    deep = "(" * 100_000 + "age" + ")" * 100_000
    text = HEAD + f'\n[[cohort.include]]\nlabel = "deep"\nexpr = "{deep}"\n'
    probs = _problems(text, "toml")
    assert probs == [("cohort.include.0.expr", line_of(text, "((("), probs[0][2])]
    assert "200,003 characters long; at most 2,000" in probs[0][2]
    for nested in ["-" * 1500 + "age", "(" * 300 + "age" + ")" * 300, "log(" * 60 + "age" + ")" * 60]:
        with pytest.raises(ExpressionError, match="nested more than 50 levels|too many nested"):
            parse_expression(nested)
    # the loaders: inline arrays nested 100,000 deep, in TOML and in YAML
    toml = HEAD + "\n[analyses.km]\nlandmarks = " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert _problems(toml, "toml") == [("(syntax)", line_of(toml, "landmarks"), "nested more than 50 levels deep")]
    yaml = "title: t\nname: t\nanalyses:\n  km:\n    landmarks: " + "[" * 100_000 + "]" * 100_000 + "\n"
    ((field, ln, msg),) = _problems(yaml, "yaml")   # libyaml, when present, stops at 1000 levels itself
    assert (field, ln) == ("(syntax)", 5) and ("nested more than 50 levels deep" in msg or "nesting depth" in msg)
    yaml = "title: t\nname: t\nanalyses:\n  km:\n    landmarks: " + "[" * 60 + "]" * 60 + "\n"
    assert _problems(yaml, "yaml") == [("(syntax)", 5, "nested more than 50 levels deep")]
    dotted = HEAD + "\nx" + ".x" * 200_000 + " = 1\n"   # tomllib takes quadratic time on such keys
    assert _problems(dotted, "toml")[0][:2] == ("(syntax)", line_of(dotted, "x.x"))


def test_deep_formula_terms_name_the_term():
    import oligomet as om

    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [1, 0, 1, 1], "age": [50.0, 60, 70, 80]})
    with pytest.raises(ValueError, match=r"cannot parse covariate term 'I\(\(\(\(.*characters long"):
        om.cox(d, time="t", event="e", covariates=["I(" + "(" * 100_000 + "age" + ")" * 100_000 + ")"])


# --- D10, D11: YAML ----------------------------------------------------------------------------

BILLION_LAUGHS = """title: t
name: t
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _problems(text, fmt, path=None):
    with pytest.raises(ProtocolError) as info:
        loads(text, fmt, path=path or f"p.{fmt}")
    return info.value.problems


def test_yaml_alias_bomb_is_refused_before_it_expands():
    assert len(BILLION_LAUGHS.encode()) < 520   # 9^8 = 43 million strings once expanded
    probs = _problems(BILLION_LAUGHS, "yaml")
    assert probs[0] == ("(syntax)", 3, "YAML anchor &a is not allowed in a protocol; write the value out where it "
                                       "is used")
    assert probs[2] == ("(syntax)", 4, "YAML alias *a is not allowed in a protocol; write the value out")
    assert len(probs) == 6 and "more anchors/aliases" in probs[-1][2]
    # without aliases, a megabyte of values is refused after the first 20,000, unparsed beyond
    flood = "title: t\nname: t\nx: [" + "1," * 400_000 + "1]\n"
    assert _problems(flood, "yaml") == [("(file)", 3, "more than 20,000 values; a protocol has a few hundred")]


def test_protocol_files_over_a_megabyte_are_refused_unread(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("title: t\n" + "# padding\n" * 110_000)
    with pytest.raises(ProtocolError, match=r"big.yaml:\?: \(file\): the file is 1,100,009 bytes; a protocol "
                                            r"is at most 1,000,000 bytes"):
        load_protocol(big)
    assert "at most 1,000,000 are allowed" in _problems("x" * 1_000_001, "toml")[0][2]


def test_duplicate_yaml_keys_are_refused_with_both_lines():
    text = ("title: t\nname: t\ndata: {synthetic: {n_patients: 10}}\nendpoints: [{name: os}]\n"
            "cohort:\n  include:\n    - {column: age, min: 18}\n"
            "cohort:\n  exclude:\n    - {column: ecog, min: 3, column: cea}\n")
    probs = _problems(text, "yaml")
    assert probs == [("cohort", 8, "duplicate key 'cohort' (first given at line 5)"),
                     ("cohort.exclude.0.column", 10, "duplicate key 'column' (first given at line 10)")]
    # as TOML does
    assert "TOML syntax error" in _problems(HEAD + '\n[cohort]\nsource_label = "a"\n[cohort]\n', "toml")[0][2]


def test_yaml_examples_still_load():
    proto = load_protocol(EXAMPLES / "crlm_early_recurrence.yaml")
    assert proto.derive[0].expr == "recurrence_months <= 4"


# --- D22: any exposure group name ------------------------------------------------------------------

def test_group_names_with_both_quotes_parentheses_and_separators_run(registry):
    import oligomet as om

    ref, other = """Systemic "alone" (it's a) : b*c + d""", "Repeat [local], 'x'"
    text = (EXAMPLES / "crlm_early_recurrence.yaml").read_text()
    text = text.replace("- name: Systemic therapy alone", "- name: '" + ref.replace("'", "''") + "'")
    text = text.replace("- name: Repeat local treatment", "- name: \"" + other.replace('"', '\\"') + "\"")
    proto = loads(text, "yaml")
    assert [g.name for g in proto.exposure.groups] == [ref, other]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(proto, tables=registry)
        uni = study.results.numbers["cox"]["os"]["univariable"]
        c = study.cohort.assign(treated=(study.cohort["exposure"] == other).astype(float))
        fit = om.cox(c, time="os_time", event="os_event", covariates=["treated"])
    assert uni[f"exposure[{other}]"]["hr"] == pytest.approx(fit.summary.loc["treated", "hr"], rel=1e-10)


def test_expressions_cannot_exhaust_memory_or_time():
    """Within the language, text times a number and exact integer powers are the unbounded operations."""
    f = pd.DataFrame({"s": ["a", "b"], "x": [1.0, 2.0]})
    for text in ["'a' * 1000000000", "s * 100000000", "'%s' % x"]:
        with pytest.raises(ExpressionError, match="needs numbers, not text"):
            evaluate(text, f)
    with pytest.raises(ExpressionError, match=r"cannot evaluate '9 \*\* 9 \*\* 9 \+ x'"):
        evaluate("9 ** 9 ** 9 + x", f)   # as floats: an overflow, not hours of big-integer arithmetic
    assert list(evaluate("s + '!'", f)) == ["a!", "b!"] and list(evaluate("2 ** x", f)) == [2.0, 4.0]
