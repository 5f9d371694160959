"""A protocol that does not fit the data stops with its specific error, pointing to the protocol line."""
from __future__ import annotations

import warnings

import pytest

from oligomet.study import StudyError, run_study
from oligomet.study.protocol_source import loads

HEAD = """title = "t"
name = "t"

[data]
synthetic = { n_patients = 100 }

[origin]
type = "index_treatment"
"""
ENDPOINT = """
[[endpoints]]
name = "os"
"""


def fails(text: str, registry) -> tuple[str, int | None, str]:
    proto = loads(text, "toml", path="p.toml")
    with warnings.catch_warnings(), pytest.raises(StudyError) as info:
        warnings.simplefilter("ignore")
        run_study(proto, tables=registry)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def line(text: str, snippet: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln)


def test_unknown_column_in_criterion(registry):
    text = HEAD + '\n[[cohort.include]]\ncolumn = "primary_sight"\nequals = "colorectal"\n' + ENDPOINT
    field, ln, msg = fails(text, registry)
    assert field == "cohort.include.0.column" and ln == line(text, "primary_sight")
    assert "unknown column 'primary_sight'" in msg and "primary_site" in msg


def test_unknown_code_lists_allowed_values(registry):
    text = HEAD + '\n[[cohort.include]]\ncolumn = "primary_site"\nin = ["colorectal", "sarkoma"]\n' + ENDPOINT
    field, ln, msg = fails(text, registry)
    assert field == "cohort.include.0.in" and ln == line(text, "sarkoma")
    assert "'sarkoma'" in msg and "allowed: colorectal, sarcoma" in msg


def test_empty_cohort(registry):
    text = HEAD + ('\n[[cohort.include]]\ncolumn = "primary_site"\nequals = "sarcoma"\n'
                   '\n[[cohort.include]]\nlabel = "index SABR"\ncolumn = "index_modality"\n'
                   'equals = "sabr"\n') + ENDPOINT
    field, ln, msg = fails(text, registry)
    assert field == "cohort.include.1" and ln == line(text, "index SABR") - 1
    assert msg.startswith("empty cohort") and "'index SABR'" in msg


def test_group_with_no_patients(registry):
    text = HEAD + '\n[[cohort.include]]\ncolumn = "primary_site"\nequals = "sarcoma"\n' + """
[exposure]
[[exposure.groups]]
name = "resected"
where = [{ column = "index_modality", equals = "resection" }]
[[exposure.groups]]
name = "ablated"
where = [{ column = "index_modality", equals = "rfa" }]
""" + ENDPOINT
    field, ln, msg = fails(text, registry)
    assert field == "exposure.groups.1" and ln == line(text, "[[exposure.groups]]") + 3
    assert "exposure group 'ablated' has no patients" in msg


def test_overlapping_groups(registry):
    text = HEAD + """
[exposure]
[[exposure.groups]]
name = "all"
where = [{ column = "os_time", min = 0 }]
[[exposure.groups]]
name = "sarcoma"
where = [{ column = "primary_site", equals = "sarcoma" }]
""" + ENDPOINT
    field, _, msg = fails(text, registry)
    assert field == "exposure.groups" and "more than one exposure group" in msg


def test_endpoint_not_derivable_no_column(registry):
    text = HEAD + '\n[[endpoints]]\nname = "rfs"\nlabel = "Recurrence-free survival"\n'
    field, ln, msg = fails(text, registry)
    assert field == "endpoints.0" and ln == line(text, "[[endpoints]]")
    assert "endpoint 'rfs' cannot be derived" in msg and "no time column 'rfs_time'" in msg and "dfs" in msg


def test_endpoint_not_derivable_for_cohort(registry):
    # DFS needs a curative local index treatment: systemic-only patients have none
    text = HEAD.replace('type = "index_treatment"', 'type = "index_treatment"\nindex_modalities = ["systemic"]') + \
        '\n[[cohort.include]]\ncolumn = "index_modality"\nequals = "systemic"\n' + '\n[[endpoints]]\nname = "dfs"\n'
    field, _, msg = fails(text, registry)
    assert field == "endpoints.0" and "cannot be derived from the registry for any of the" in msg


def test_unknown_column_in_derived_expression(registry):
    text = HEAD + '\n[[derive]]\nname = "big"\nexpr = "max_diametre_mm > 20"\n' + ENDPOINT
    field, ln, msg = fails(text, registry)
    assert field == "derive.0.expr" and ln == line(text, "max_diametre_mm")
    assert "unknown column" in msg and "max_diameter_mm" in msg


def test_unknown_covariate_column(registry):
    text = HEAD + ENDPOINT + '\n[[covariates]]\ncolumn = "performance"\n'
    field, ln, msg = fails(text, registry)
    assert field == "covariates.0.column" and ln == line(text, "performance") and "ecog" in msg
