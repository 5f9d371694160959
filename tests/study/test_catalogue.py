"""The catalogue of analyses drives the runner and the protocol checks: every analysis the protocol
schema knows is in it, and the generic checks follow what each options model declares."""
from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel

from oligomet.study import ProtocolError
from oligomet.study.catalogue import CATALOGUE, requested
from oligomet.study.protocol import Analyses, AnalysisOptions
from oligomet.study.protocol_source import loads

from .test_protocol import BASE as ONE_ENDPOINT

BASE = ONE_ENDPOINT + """
[[endpoints]]
name = "lr"
kind = "competing"

[[covariates]]
column = "age"
"""
EXPOSURE = """
[exposure]
label = "Arm"
[[exposure.groups]]
name = "A"
where = [{ column = "age", max = 60 }]
[[exposure.groups]]
name = "B"
where = [{ column = "age", gt = 60 }]
"""


def problems(text: str) -> list[tuple]:
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    return [(loc, msg) for loc, _line, msg in info.value.problems]


def test_every_analysis_of_the_schema_is_in_the_catalogue_once():
    keys = [a.key for a in CATALOGUE]
    assert sorted(keys) == sorted(Analyses.model_fields) and len(set(keys)) == len(keys)
    for key, field in Analyses.model_fields.items():   # X | None, or list[X]: X declares its checks
        assert issubclass(_options_model(field.annotation), AnalysisOptions), key


def _options_model(annotation):
    for t in get_args(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
        if get_args(t):
            return _options_model(t)
    return None


def test_requested_follows_the_catalogue_order():
    text = BASE + EXPOSURE + '\n[analyses.cox]\nendpoints = ["os"]\n[analyses.km]\nendpoints = ["os"]\n' \
                             '[analyses.followup]\nendpoint = "os"\n'
    proto = loads(text, "toml")
    assert [a.key for a in requested(proto.analyses)] == ["followup", "km", "cox"]


@pytest.mark.parametrize("section, loc, message", [
    ('[analyses.km]\nendpoints = ["lr"]', "analyses.km.endpoints.0", "'lr' is a competing-risks endpoint"),
    ('[analyses.cif]\nendpoints = ["os"]', "analyses.cif.endpoints.0", "'os' is a survival endpoint"),
    ('[analyses.cox]\nendpoints = ["os"]\nfixed = ["exposure", "ag"]', "analyses.cox.fixed.1",
     "unknown covariate 'ag'"),
    ('[analyses.table_one]\nvariables = ["sex"]', "analyses.table_one.variables.0", "unknown covariate 'sex'"),
    ('[analyses.followup]\nendpoint = "pfs"', "analyses.followup.endpoint", "unknown endpoint 'pfs'"),
    ('[[analyses.subgroups]]\nname = "s"\ncolumn = "age"\nendpoints = ["lr"]\n[[analyses.subgroups]]\nname = "t"\n'
     'column = "age"', "analyses.subgroups", "needs an [exposure] section"),
    ('[analyses.propensity]\ncovariates = ["age"]', "analyses.propensity", "needs an [exposure] section"),
    ('[analyses.cif]\nendpoints = ["lr"]\nfine_gray = true', "analyses.cif.fine_gray",
     "a Fine–Gray model needs covariates or an [exposure]"),
])
def test_generic_checks_from_the_declarations(section, loc, message):
    found = problems(BASE + "\n" + section + "\n")
    assert any(at == loc and message in msg for at, msg in found), found


def test_subgroups_take_survival_endpoints_and_report_exposure_once():
    found = problems(BASE + '\n[[analyses.subgroups]]\nname = "s"\ncolumn = "age"\nendpoints = ["lr"]\n'
                            '[[analyses.subgroups]]\nname = "t"\ncolumn = "age"\n')
    assert [at for at, msg in found if "exposure" in msg] == ["analyses.subgroups"]
    assert ("analyses.subgroups.0.endpoints.0",
            "'lr' is a competing-risks endpoint; analyse it under analyses.cif") in found


def test_propensity_needs_two_groups():
    three = EXPOSURE + '[[exposure.groups]]\nname = "C"\nwhere = [{ column = "age", missing = true }]\n'
    found = problems(BASE + three + '\n[analyses.propensity]\ncovariates = ["age"]\n')
    assert ("exposure.groups", "propensity-score matching/weighting needs exactly 2 groups") in found
