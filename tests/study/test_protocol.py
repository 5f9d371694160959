"""Protocol validation: each bad protocol gives its specific error, with field, line and allowed values."""
from __future__ import annotations

import pytest

from oligomet.study import ProtocolError, load_protocol
from oligomet.study.protocol_source import loads

from .conftest import EXAMPLES

BASE = """title = "t"
name = "t"

[data]
synthetic = { n_patients = 100 }

[[endpoints]]
name = "os"
"""


def line(text: str, snippet: str, nth: int = 0) -> int:
    """1-based line of the nth line containing ``snippet`` (the expected line, found independently)."""
    hits = [i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln]
    return hits[nth]


def problems(text: str, fmt: str = "toml"):
    with pytest.raises(ProtocolError) as info:
        loads(text, fmt, path="p." + fmt)
    return info.value.problems, str(info.value)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.yaml")))
def test_examples_are_valid(path):
    proto = load_protocol(path)
    assert proto.endpoints and proto.name == path.stem
    assert len(proto.hash) == 64


def test_unknown_field_names_line_and_allowed_fields():
    text = BASE + "\n[analyses.km]\nendpoints = [\"os\"]\ncolour = \"red\"\n"
    probs, msg = problems(text)
    assert probs == [("analyses.km.colour", line(text, "colour"), probs[0][2])]
    assert "unknown field 'colour'" in probs[0][2] and "landmarks" in probs[0][2]
    assert f"p.toml:{line(text, 'colour')}:" in msg


def test_bad_literal_lists_allowed_values():
    text = BASE.replace('name = "t"\n', 'name = "t"\ntime_unit = "weeks"\n', 1)
    probs, _ = problems(text)
    assert probs[0][0] == "time_unit" and probs[0][1] == line(text, "weeks")
    assert "'weeks' is not allowed" in probs[0][2] and "'months'" in probs[0][2] and "'days'" in probs[0][2]


def test_array_of_tables_index_and_line():
    text = BASE + """
[[cohort.include]]
column = "primary_site"
in = ["colorectal"]

[[cohort.include]]
column = "age"
above = 3
"""
    probs, _ = problems(text)
    assert probs[0][0] == "cohort.include.1.above" and probs[0][1] == line(text, "above")


def test_condition_needs_exactly_one_operator():
    text = BASE + '\n[[cohort.include]]\ncolumn = "age"\nmin = 18\nmax = 80\n'
    probs, _ = problems(text)
    assert probs[0][0] == "cohort.include.0" and probs[0][1] == line(text, "[[cohort.include]]")
    assert "exactly one operator" in probs[0][2]


def test_unknown_endpoint_reference():
    text = BASE + '\n[analyses.km]\nendpoints = ["os", "pfs"]\n'
    probs, _ = problems(text)
    assert probs == [("analyses.km.endpoints.1", line(text, '"pfs"'), "unknown endpoint 'pfs'; declared endpoints: os")]


def test_analysis_needing_groups_without_exposure():
    probs, _ = problems(BASE + '\n[analyses.logrank]\nendpoints = ["os"]\n')
    assert probs[0][0] == "analyses.logrank" and "needs an [exposure]" in probs[0][2]


def test_yaml_errors_carry_line_numbers():
    text = "title: t\nname: t\ndata:\n  synthetic: {n_patients: 10}\nendpoints:\n  - name: os\n    kind: survival\n" \
           "  - name: lr\n    kind: competing_risks\n"
    probs, _ = problems(text, "yaml")
    assert probs[0][0] == "endpoints.1.kind" and probs[0][1] == line(text, "competing_risks")
    assert "'competing'" in probs[0][2]


def test_exactly_one_data_source():
    probs, _ = problems(BASE.replace("synthetic = { n_patients = 100 }", 'folder = "x"\nurl = "sqlite://"'))
    assert probs[0][0] == "data" and "exactly one data source" in probs[0][2]


def test_syntax_error_has_line():
    text = BASE + "\n[analyses.km\n"
    probs, _ = problems(text)
    assert probs[0][0] == "(syntax)" and probs[0][1] == line(text, "[analyses.km")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(ProtocolError, match="no such file"):
        load_protocol(tmp_path / "nope.toml")
    p = tmp_path / "x.json"
    p.write_text("{}")
    with pytest.raises(ProtocolError, match="allowed: .toml, .yaml, .yml"):
        load_protocol(p)


def test_index_modality_codes_are_checked():
    text = BASE + '\n[origin]\nindex_modalities = ["resection", "ablation"]\n'
    probs, _ = problems(text)
    assert probs[0][0] == "origin.index_modalities" and probs[0][1] == line(text, "ablation")
    assert "unknown value 'ablation'" in probs[0][2] and "rfa, mwa" in probs[0][2]
