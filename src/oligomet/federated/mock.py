"""A federated run on this machine: one vantage6 mock node per site folder (``MockNetwork``).

``split_by_site`` cuts a registry into one registry per hospital (the demo's 7 synthetic sites);
``write_sites`` writes each as a registry folder with its node configuration; ``run_mock`` runs the
study's central function over them with vantage6's own mock network and returns its output together
with every message that crossed it (for the disclosure tests and the byte count).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from .node import CONFIG_ENV

MODULE = "oligomet.federated.algorithm"


def split_by_site(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """One registry per value of ``patients.site`` (every table restricted to that site's patients)."""
    patients = tables["patients"]
    out = {}
    for site, ids in patients.groupby("site", sort=True)["patient_id"]:
        keep = set(ids)
        part = {}
        for name, frame in tables.items():
            if frame is None:
                continue
            part[name] = frame[frame["patient_id"].isin(keep)].reset_index(drop=True) \
                if "patient_id" in frame.columns else frame
        if "complications" in part and "treatments" in part and "patient_id" not in tables["complications"]:
            c = part["complications"]
            part["complications"] = c[c["treatment_id"].isin(set(part["treatments"]["treatment_id"]))]
        out[str(site)] = part
    return out


def write_sites(tables: dict[str, pd.DataFrame], root: str | Path, dataset: str = "oligomet-registry",
                **node_options) -> list[Path]:
    """A registry folder and a ``node.yaml`` per site under ``root``; returns the config paths."""
    from ..datasets.synthetic import write_registry

    root = Path(root)
    paths = []
    for i, (site, part) in enumerate(split_by_site(tables).items()):
        d = root / f"site{i + 1}"
        write_registry(part, d / "registry")
        cfg = {"site": site, "dataset": dataset, "registry": "registry", "log": "messages.jsonl", **node_options}
        (d / "node.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        paths.append(d / "node.yaml")
    return paths


def run_mock(protocol: str, fmt: str, configs: list[str | Path], plan: dict) -> tuple[dict, list[dict]]:
    """Run the study on a mock network with one organisation per node configuration.

    Returns (the central function's output, every message sent by a site as stored by the mock HQ)."""
    from vantage6.algorithm.mock import MockNetwork

    net = MockNetwork(module_name=MODULE, datasets=[{"registry": {"database": pd.DataFrame({"_": [0]})}}
                                                    for _ in configs])
    for node, cfg in zip(net.nodes, configs):
        node.env[CONFIG_ENV] = str(Path(cfg).resolve())
    client = net.user_client
    task = client.task.create(method="central", organizations=[net.organization_ids[0]],
                              arguments={"protocol": protocol, "fmt": fmt, "plan": plan}, databases=[])
    (out,) = client.result.from_task(task["id"])
    if "error" in out:
        raise RuntimeError(f"the federated study failed: {out['error']}")
    central_id = task["id"]
    messages = [json.loads(r["result"]) for r in net.hq.results if r["task"]["id"] != central_id]
    return out, messages
