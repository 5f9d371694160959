"""A site's node configuration and the checks its node applies to an incoming protocol.

The protocol comes from another institution: it is parsed as data only (pydantic, no expression is
evaluated here; cohort expressions go through the study layer's evaluator) and refused when it

* names a data source other than this node's ``dataset``;
* asks for an analysis this node's ``analyses`` do not allow;
* exceeds the node's ``max_protocol_bytes`` or ``max_cohort`` (size) or ``max_seconds`` (run time).

A refusal is a message (``{"refused": reason}``), not an exception: the study goes on without the site.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

#: Environment variable naming the node configuration file inside the algorithm container.
CONFIG_ENV = "OLIGOMET_NODE_CONFIG"

ANALYSES = ("cohort", "km", "logrank", "cox_site_strata", "cox_shared_baseline", "levels", "means", "table_one",
            "logistic", "weighting", "cox_robust", "support", "complications")


class NodeRefusal(Exception):
    """Raised inside a partial and turned into a ``{"refused": ...}`` message by the entry point."""


class NodeConfig(BaseModel):
    """One hospital's rules. ``registry`` (a folder or a database URL) never leaves the node."""

    model_config = ConfigDict(extra="forbid")

    site: str                                   # name shown in the report
    dataset: str                                # the name a protocol's ``[data] url`` must give
    registry: str                               # registry folder or store URL (private)
    min_count: Annotated[int, Field(ge=1)] = 5  # smallest non-zero count that may leave the site
    exact_times: bool = False                   # allow exact per-time tables (parity mode; see docs)
    time_grid: Annotated[float, Field(gt=0)] = 1.0  # privacy mode: times rounded up to this grid
    analyses: list[Literal[ANALYSES]] = list(ANALYSES)
    max_protocol_bytes: Annotated[int, Field(gt=0)] = 200_000
    max_cohort: Annotated[int, Field(gt=0)] = 5_000_000
    max_seconds: Annotated[float, Field(gt=0)] = 600.0
    federation_key: str | None = None           # shared by the sites, not the centre: secure sums (secure_sum.py)
    log: str | None = None                      # JSON-lines file: every message this site sent

    def registry_location(self, base: Path | None) -> str:
        if "://" in self.registry or base is None or Path(self.registry).is_absolute():
            return self.registry
        return str(base / self.registry)


def load_config(path: str | Path | None = None) -> tuple[NodeConfig, Path]:
    """The node's configuration: ``path`` or the file named by ``$OLIGOMET_NODE_CONFIG``."""
    path = Path(path or os.environ.get(CONFIG_ENV, ""))
    if not path.is_file():
        raise NodeRefusal(f"this node has no oligomet configuration (set {CONFIG_ENV} to its YAML file)")
    cfg = NodeConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return cfg, path.resolve()


_PARSED: dict = {}


def check_protocol(text: str, fmt: str, cfg: NodeConfig, analysis: str):
    """Parse ``text`` as data and apply the node's refusals; returns the Protocol."""
    from ..study.protocol_source import ProtocolError, loads

    if len(text.encode()) > cfg.max_protocol_bytes:
        raise NodeRefusal(f"protocol of {len(text.encode())} bytes exceeds this node's limit of "
                          f"{cfg.max_protocol_bytes}")
    if fmt not in ("toml", "yaml"):
        raise NodeRefusal(f"protocol format {fmt!r} is not accepted; allowed: toml, yaml")
    key = (hashlib.sha256(text.encode()).hexdigest(), fmt)
    if key not in _PARSED:   # the mock network runs every task in one process: parse a protocol once
        try:
            _PARSED[key] = loads(text, fmt)
        except ProtocolError as exc:
            raise NodeRefusal(f"invalid protocol: {exc}") from None
        if len(_PARSED) > 8:
            _PARSED.pop(next(iter(_PARSED)))
    proto = _PARSED[key]
    d = proto.data
    if d.url != cfg.dataset:
        named = d.url or d.folder or d.workbook or ("synthetic" if d.synthetic else None)
        raise NodeRefusal(f"the protocol names data source {named!r}; this node serves only {cfg.dataset!r}")
    if analysis not in cfg.analyses:
        raise NodeRefusal(f"analysis {analysis!r} is not allowed by this node (allowed: {', '.join(cfg.analyses)})")
    return proto


class MessageLog:
    """Append-only log of the messages a site sent (one JSON object per line)."""

    def __init__(self, path: str | None, base: Path):
        self.path = None if path is None else (Path(path) if Path(path).is_absolute() else base / path)

    def write(self, request: dict, message: dict) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                 "request": request, "message": message}) + "\n")

    def read(self) -> list[dict]:
        if self.path is None or not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
