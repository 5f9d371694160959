"""The synthetic registry (datasets.synthetic_registry) written to disk validates and imports cleanly."""
from __future__ import annotations

import pytest

from oligomet.datasets import synthetic
from oligomet.registry import Store, check_registry, read_registry, write_registry


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory):
    tables = synthetic.synthetic_registry(300, n_sites=7, seed=11)
    folder = tmp_path_factory.mktemp("synthetic")
    write_registry(tables, folder)
    return folder, tables


def test_synthetic_registry_validates_cleanly(synthetic_folder):
    folder, tables = synthetic_folder
    back, report = check_registry(folder, data_lock=str(synthetic.DATA_LOCK.date()))
    assert report.ok, report.to_text(limit=20)
    assert len(report.warnings) == 0, report.to_text(limit=20)
    assert {k: len(v) for k, v in back.items()} == {k: len(v) for k, v in tables.items()}


def test_synthetic_registry_imports_and_loads_back(synthetic_folder, tmp_path):
    folder, _ = synthetic_folder
    store = Store(tmp_path / "syn.sqlite")
    result = store.import_registry(folder, data_lock=str(synthetic.DATA_LOCK.date()))
    assert result.status == "imported", result.report.to_text(limit=20)
    loaded = store.load()
    read, _ = read_registry(folder)
    for name, frame in read.items():
        assert len(loaded[name]) == len(frame)
    assert loaded["patients"]["patient_id"].str.startswith("SYN-").all()
    store.close()


def test_synthetic_generator_writer_output_is_accepted(tmp_path):
    """The generator's own writer (used by `oligomet synth`) produces a folder the registry accepts."""
    tables = synthetic.synthetic_registry(100, seed=3)
    synthetic.write_registry(tables, tmp_path / "syn")
    _, report = check_registry(tmp_path / "syn")
    assert report.ok, report.to_text(limit=20)
