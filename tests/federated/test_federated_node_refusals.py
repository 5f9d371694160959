"""A node refuses a protocol naming another data source, an analysis its configuration does not allow,
exact times it does not allow, or a protocol over its size limit; the refusals are named and logged."""
from __future__ import annotations

import pytest
import yaml

from oligomet.federated.node import NodeConfig, NodeRefusal, check_protocol

from federated_sites import DATASET, protocol_text

CFG = NodeConfig(site="Site X", dataset=DATASET, registry="registry")


def test_other_data_source_is_refused():
    text = protocol_text().replace(f"url: {DATASET}", "folder: /elsewhere/registry")
    with pytest.raises(NodeRefusal, match="names data source '/elsewhere/registry'; this node serves only"):
        check_protocol(text, "yaml", CFG, "cohort")


def test_analysis_not_allowed_is_refused():
    cfg = CFG.model_copy(update={"analyses": ["cohort", "km"]})
    with pytest.raises(NodeRefusal, match="'cox_shared_baseline' is not allowed"):
        check_protocol(protocol_text(), "yaml", cfg, "cox_shared_baseline")
    assert check_protocol(protocol_text(), "yaml", cfg, "km").name == "crlm_early_recurrence"


def test_size_limit_and_format():
    with pytest.raises(NodeRefusal, match="exceeds this node's limit of 100"):
        check_protocol(protocol_text(), "yaml", CFG.model_copy(update={"max_protocol_bytes": 100}), "cohort")
    with pytest.raises(NodeRefusal, match="format 'python' is not accepted"):
        check_protocol("import os", "python", CFG, "cohort")


def test_protocol_with_unknown_fields_is_refused_as_data():
    text = protocol_text() + "\nexec: \"__import__('os').system('true')\"\n"
    with pytest.raises(NodeRefusal, match="unknown field 'exec'"):
        check_protocol(text, "yaml", CFG, "cohort")


def test_refusals_in_a_run_are_reported_and_logged(exact_sites, tmp_path):
    """One site allows no shared-baseline Cox and no exact times: it is named, the rest goes on."""
    from oligomet.federated.mock import run_mock

    import shutil
    configs = []
    for i, cfg in enumerate(exact_sites):
        d = tmp_path / cfg.parent.name
        d.mkdir()
        (d / "registry").symlink_to(cfg.parent / "registry")
        conf = yaml.safe_load(cfg.read_text())
        if i == 0:
            conf.update(exact_times=False, analyses=["cohort", "km", "levels", "cox_site_strata"])
        (d / "node.yaml").write_text(yaml.safe_dump(conf))
        configs.append(d / "node.yaml")
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)
    site = yaml.safe_load(configs[0].read_text())["site"]
    plan = {"km": [{"endpoint": "os", "exact": True}],
            "cox": [{"endpoint": "os", "terms": ["age"], "baseline": "shared", "exact": True}]}
    out, _ = run_mock(protocol_text(), "yaml", configs, plan)
    reasons = {(r["site"], r["step"]): r["reason"] for r in out["refused"]}
    assert "only its privacy mode" in reasons[(site, "km os")]
    assert "'means' is not allowed" in reasons[(site, "cox os")]
    assert site not in out["km"]["os"] and site not in out["cox"][0]["sites"] and len(out["cox"][0]["sites"]) == 6
    log = (configs[0].parent / "messages.jsonl").read_text()
    assert "only its privacy mode" in log
