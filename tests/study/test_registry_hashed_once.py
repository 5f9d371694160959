"""Several studies on one registry hash it once (``run_study(..., data_sha256=)``, as the demo does):
the provenance must be the hash of those very tables, and a study must never change the tables it reads,
or a hash computed before it would describe other data."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROTOCOLS = ("salvage_after_sabr.toml", "crlm_early_recurrence.yaml", "crlm_ablation_timing.toml",
             "sarcoma_lung_metastasectomy.toml")


@pytest.mark.parametrize("name", PROTOCOLS)
def test_a_study_leaves_the_registry_unchanged(registry, name):
    from oligomet.study import run_study
    from oligomet.study.cohort import data_hash

    before = data_hash(registry)
    frames = {k: v.copy() for k, v in registry.items() if v is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(EXAMPLES / name, tables=registry, data_sha256=before)
    assert data_hash(registry) == before
    for k, v in frames.items():
        assert registry[k].equals(v), k
    assert study.results.provenance["data_sha256"] == before


def test_a_given_hash_gives_the_same_provenance_as_computing_it(registry):
    from oligomet.study import run_study
    from oligomet.study.cohort import data_hash

    path = EXAMPLES / "sarcoma_lung_metastasectomy.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        computed = run_study(path, tables=registry).results
        given = run_study(path, tables=registry, data_sha256=data_hash(registry)).results
    assert given.provenance == computed.provenance
    assert given.numbers == computed.numbers


def test_a_hash_without_tables_is_refused():
    from oligomet.study import run_study

    with pytest.raises(ValueError, match="only with tables"):
        run_study(EXAMPLES / "sarcoma_lung_metastasectomy.toml", data_sha256="0" * 64)
