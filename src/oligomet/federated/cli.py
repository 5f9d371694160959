"""``oligomet run PROTOCOL --federated CONFIG``: the federated run behind the CLI."""
from __future__ import annotations

from pathlib import Path


def run_federated(protocol: Path, config: Path, out: Path) -> str:
    from ..study.protocol_source import load
    from .mock import run_mock
    from .study import load_federation, plan_for, summarise, write_summary

    proto = load(protocol)
    text = Path(protocol).read_text(encoding="utf-8")
    fmt = "toml" if Path(protocol).suffix.lower() == ".toml" else "yaml"
    result, _ = run_mock(text, fmt, load_federation(config), plan_for(proto))
    tables = summarise(result, proto)
    write_summary(tables, result, out)
    n = int(tables["flow"]["n_remaining"].iloc[-1]) if len(tables["flow"]) else 0
    return (f"{proto.title}: federated over {len(result['sites'])} site(s), cohort of {n} patients, "
            f"{len(result['refused'])} refusal(s); summary written to {out}")
