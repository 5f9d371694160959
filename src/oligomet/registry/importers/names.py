"""How source headers, file names and sheet names map to field and table names."""
from __future__ import annotations

import re


def normalise_name(name) -> str:
    """Header (or file / sheet name) as a field (table) name: stripped, lower case, runs of spaces /
    hyphens / dots -> "_"."""
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())
