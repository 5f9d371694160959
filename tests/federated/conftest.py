"""Session fixtures: the 7 site folders (exact mode) and the pooled cohort built from the same folders."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    import vantage6.algorithm.tools  # noqa: F401
except ImportError:   # a Python < 3.13 venv has no federated extra; CI (a fresh venv on 3.13) must run these
    if os.environ.get("CI"):
        raise
    pytest.skip("the federated extra (vantage6-algorithm-tools 5.x) needs Python >= 3.13", allow_module_level=True)

from federated_sites import pooled_cohort, site_configs  # noqa: E402


@pytest.fixture(scope="session")
def exact_sites(tmp_path_factory) -> list[Path]:
    return site_configs(tmp_path_factory.mktemp("exact"), exact_times=True)


@pytest.fixture(scope="session")
def pooled(exact_sites):
    return pooled_cohort(exact_sites)
