"""Shared fixtures of the study tests: one small synthetic registry, one run of a full protocol."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "study" / "study_fixtures.json"


@pytest.fixture(scope="session")
def registry():
    from oligomet.datasets import synthetic_registry

    return synthetic_registry(2500, seed=11)


@pytest.fixture(scope="session")
def r_fixtures() -> dict:
    return json.loads(FIXTURES.read_text())


@pytest.fixture(scope="session")
def ablation_run(registry, tmp_path_factory):
    """The ablation-timing example (KM, log-rank, Cox, PS matching, CIF, complications), report written."""
    from oligomet.study import run_study

    out = tmp_path_factory.mktemp("ablation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(EXAMPLES / "crlm_ablation_timing.toml", out=out, tables=registry)
    return study, json.loads((out / "results.json").read_text())
