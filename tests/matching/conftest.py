"""Fixtures for the matching tests."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from matching_data import FIXTURE_DIR, load_data


@pytest.fixture(scope="session")
def matching_fixtures() -> dict:
    return json.loads((FIXTURE_DIR / "matching_fixtures.json").read_text())


@pytest.fixture(scope="session")
def colon() -> pd.DataFrame:
    return load_data("colon")
