"""Helpers: a 7-site synthetic registry written as one registry folder + node configuration per site, the
pooled cohort built from the same folders, and one federated run shared by the tests of a module."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


from oligomet import registry  # noqa: E402
from oligomet.datasets import synthetic_registry  # noqa: E402
from oligomet.federated.mock import write_sites  # noqa: E402
from oligomet.study import cohort as C  # noqa: E402
from oligomet.study.protocol_source import loads  # noqa: E402
from oligomet.study.run import _prepare_covariates  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "crlm_early_recurrence.yaml"
DATASET = "oligomet-registry"


def protocol_text() -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("synthetic: {n_patients: 5000, seed: 20240601}", f"url: {DATASET}")
    # a competing-risks endpoint too (local recurrence vs death without it), for the CIF and Gray's test
    return text.replace("  - {name: pfs, label: Progression-free survival}\n",
                        "  - {name: pfs, label: Progression-free survival}\n"
                        "  - {name: lr, time: lr_time, event: lr_status, kind: competing}\n")


def site_configs(root: Path, **options) -> list[Path]:
    tables = synthetic_registry(5000, seed=20240601)
    return write_sites(tables, root, dataset=DATASET, **options)


def pooled_cohort(configs: list[Path]) -> pd.DataFrame:
    """The pooled analysis' cohort: every site's registry read back and concatenated."""
    parts = [registry.read_registry(Path(c).parent / "registry")[0] for c in configs]
    tables = {name: pd.concat([p[name] for p in parts if p.get(name) is not None], ignore_index=True)
              for name in parts[0]}
    proto = loads(protocol_text(), "yaml")
    candidates, rows, done = C.prefilter(tables, proto)
    frame = _prepare_covariates(C.analysis_frame(candidates, proto), proto)
    cohort, flow = C.apply_cohort(frame, proto, rows=rows, skip=done)
    cohort, flow = C.assign_groups(cohort, flow, proto)
    return cohort, flow




def assert_same_table(fed, ref, atol: float = 1e-10, min_rows: int = 50) -> None:
    """Every numeric column of two survfit-style tables equal within ``atol``, same shape."""
    import numpy as np

    a, b = fed.reset_index(drop=True), ref.reset_index(drop=True)
    assert a.shape == b.shape and len(a) > min_rows
    for col in b.columns:
        if pd.api.types.is_numeric_dtype(b[col]):
            np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=0, atol=atol,
                                       err_msg=col)
