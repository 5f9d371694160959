"""`validate-protocol` runs every check `run` makes before its first analysis, on the protocol's data.

Each broken protocol below differs from a valid one by one edit; `run` and `validate-protocol` both reject
it, with the same message, naming the line of the edit. Some are wrong in the file alone, the others only
against the data (unknown columns, codes outside a code list, derive expressions, reference levels, empty
cohorts, groups and subgroup cells).
"""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from oligomet.cli import app

VALID = """\
title = "Broken protocols"
name = "broken"
[data]
synthetic = { n_patients = 800, seed = 5 }
[[derive]]
name = "big_lesion"
expr = "max_diameter_mm > 30"
[cohort]
[[cohort.include]]
column = "primary_site"
equals = "colorectal"
[exposure]
label = "First local treatment"
[[exposure.groups]]
name = "Resection"
where = [{ column = "index_modality", equals = "resection" }]
[[exposure.groups]]
name = "Ablation"
where = [{ column = "index_modality", in = ["rfa", "mwa"] }]
[[endpoints]]
name = "os"
label = "Overall survival"
[[covariates]]
column = "age"
label = "Age"
[[covariates]]
column = "ras"
type = "categorical"
reference = "wild_type"
[analyses.km]
endpoints = ["os"]
[[analyses.subgroups]]
column = "n_lesions"
cuts = [2]
labels = ["1 lesion", "≥ 2 lesions"]
endpoints = ["os"]
covariates = ["age"]
"""

#: (id, text replaced, replacement, the field the error names, a regex the message must match)
BROKEN = [
    ("unknown column in a criterion", 'column = "primary_site"', 'column = "primary_sight"',
     "cohort.include.0.column", r"unknown column 'primary_sight'; available columns: .*primary_site"),
    ("code outside the code list", 'equals = "colorectal"', 'equals = "colon"',
     "cohort.include.0.equals", r"unknown value 'colon' for 'primary_site'; allowed: colorectal, sarcoma"),
    ("code outside the code list in a group", 'in = ["rfa", "mwa"]', 'in = ["rfa", "microwave"]',
     "exposure.groups.1.where.0.in", r"unknown value 'microwave' for 'index_modality'"),
    ("derive expression on an unknown column", 'expr = "max_diameter_mm > 30"', 'expr = "max_diam > 30"',
     "derive.0.expr", r"max_diam"),
    ("derive expression outside the language", 'expr = "max_diameter_mm > 30"',
     'expr = "max_diameter_mm.mean()"', "derive.0.expr", r"not allowed in an expression"),
    ("reference level not in the data", 'reference = "wild_type"', 'reference = "wildtype"',
     "covariates.1.reference", r"reference level 'wildtype' of 'ras' is not among its levels in the cohort: "
                               r"mutant, wild_type"),
    ("unknown covariate column", 'column = "ras"', 'column = "kras"',
     "covariates.1.column", r"unknown column 'kras'"),
    ("empty subgroup cell", "cuts = [2]", "cuts = [100]",
     "analyses.subgroups.0.cuts", r"subgroup 'n_lesions', endpoint os: '≥ 2 lesions' × 'Resection': no patients; "
                                  r"'≥ 2 lesions' × 'Ablation': no patients; the hazard ratio and the interaction "
                                  r"cannot be estimated"),
    ("unknown subgroup column", 'column = "n_lesions"', 'column = "n_lesion"',
     "analyses.subgroups.0.column", r"unknown column 'n_lesion'"),
    ("cuts of a text column", 'column = "n_lesions"', 'column = "ras"',
     "analyses.subgroups.0.cuts", r"'cuts' split a count or a measurement; 'ras' holds"),
    ("labels that do not fit the cuts", 'labels = ["1 lesion", "≥ 2 lesions"]', 'labels = ["1 lesion"]',
     "analyses.subgroups.0", r"1 cut\(s\) make 2 levels; 'labels' has 1"),
    ("empty cohort", 'equals = "colorectal"\n',
     'equals = "colorectal"\n[[cohort.include]]\ncolumn = "age"\nmin = 200\n',
     "cohort.include.1", r"empty cohort: no patient is left"),
    ("group with no patients", 'where = [{ column = "index_modality", in = ["rfa", "mwa"] }]',
     'where = [{ column = "age", gt = 200 }]', "exposure.groups.1", r"exposure group 'Ablation' has no patients"),
    ("overlapping groups", 'in = ["rfa", "mwa"]', 'in = ["rfa", "mwa", "resection"]',
     "exposure.groups", r"fall in more than one exposure group"),
    ("endpoint that cannot be derived", 'name = "os"\n', 'name = "xyz"\n[[endpoints]]\nname = "os"\n',
     "endpoints.0", r"endpoint 'xyz' cannot be derived from the registry"),
    ("non-ISO data lock", "synthetic = { n_patients = 800, seed = 5 }",
     'synthetic = { n_patients = 800, seed = 5 }\ndata_lock = "01-02-2020"',
     "data.data_lock", r"is not a date in YYYY-MM-DD \(ISO\): it could be 2020-02-01 \(day first\)"),
    ("unknown endpoint in an analysis", '[analyses.km]\nendpoints = ["os"]', '[analyses.km]\nendpoints = ["pfs"]',
     "analyses.km.endpoints.0", r"unknown endpoint 'pfs'; declared endpoints: os"),
]


def edited(old: str, new: str) -> str:
    assert VALID.count(old) >= 1, old
    return VALID.replace(old, new, 1)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_valid_protocol_passes_both(tmp_path):
    path = tmp_path / "valid.toml"
    path.write_text(VALID)
    checked = invoke("validate-protocol", str(path))
    assert checked.exit_code == 0, checked.output
    assert re.search(r"valid \(1 endpoint\(s\), 2 covariate\(s\); analyses: km, subgroups\); data checked: a cohort "
                     r"of \d+ of 800 patients \(Resection \d+, Ablation \d+\)", checked.output)
    ran = invoke("run", str(path), "--out", str(tmp_path / "report"))
    assert ran.exit_code == 0, ran.output


def test_there_are_at_least_ten_broken_protocols():
    assert len(BROKEN) >= 10 and len({b[0] for b in BROKEN}) == len(BROKEN)


@pytest.mark.parametrize(("old", "new", "field", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_run_and_validate_reject_with_the_same_message(tmp_path, old, new, field, message):
    text = edited(old, new)
    path = tmp_path / "broken.toml"
    path.write_text(text)
    checked = invoke("validate-protocol", str(path))
    ran = invoke("run", str(path), "--out", str(tmp_path / "report"))
    assert checked.exit_code == 1 and ran.exit_code == 1, (checked.output, ran.output)
    assert checked.output == ran.output
    assert not (tmp_path / "report").exists()
    first = re.search(rf"{re.escape(str(path))}:(\d+): {re.escape(field)}: (.*)", checked.output)
    assert first, checked.output
    assert re.search(message, first.group(2)), first.group(2)
    # the line is the field's: its key, or the header of its section (`[[exposure.groups]]` for exposure.groups.1)
    key = next(part for part in reversed(field.split(".")) if not part.isdigit())
    assert key in text.splitlines()[int(first.group(1)) - 1], (first.group(1), key)


def test_file_only_skips_the_data(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(edited("cuts = [2]", "cuts = [100]").replace("synthetic = { n_patients = 800, seed = 5 }",
                                                                 'folder = "no-such-folder"'))
    assert "data not checked (--file-only)" in invoke("validate-protocol", str(path), "--file-only").output
    unreachable = invoke("validate-protocol", str(path))
    assert unreachable.exit_code == 1 and "data.folder: no such file or folder" in unreachable.output


def test_a_modelled_categorical_covariate_needs_two_levels(tmp_path):
    """Only wild-type patients: `ras` has one level, which no model can estimate; named before any analysis."""
    text = edited('equals = "colorectal"\n', 'equals = "colorectal"\n[[cohort.include]]\ncolumn = "ras"\n'
                                            'equals = "wild_type"\n').replace('covariates = ["age"]',
                                                                              'covariates = ["age", "ras"]')
    path = tmp_path / "p.toml"
    path.write_text(text)
    checked = invoke("validate-protocol", str(path))
    assert checked.exit_code == 1 and checked.output == invoke("run", str(path), "--out", str(tmp_path / "r")).output
    line = text.splitlines().index('column = "ras"', text.splitlines().index("[[covariates]]") ) + 1
    assert f":{line}: covariates.1.column: categorical covariate 'ras' has a single level (wild_type)" in \
        checked.output
    # declared but in no model (Table 1 only describes): no error
    path.write_text(text.replace('covariates = ["age", "ras"]', 'covariates = ["age"]'))
    assert invoke("validate-protocol", str(path)).exit_code == 0
