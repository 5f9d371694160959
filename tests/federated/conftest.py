"""Session fixtures: the 7 site folders (exact mode) and the pooled cohort built from the same folders."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("vantage6.algorithm.tools", reason="the federated extra needs Python >= 3.13")

from federated_sites import pooled_cohort, site_configs  # noqa: E402


@pytest.fixture(scope="session")
def exact_sites(tmp_path_factory) -> list[Path]:
    return site_configs(tmp_path_factory.mktemp("exact"), exact_times=True)


@pytest.fixture(scope="session")
def pooled(exact_sites):
    return pooled_cohort(exact_sites)
