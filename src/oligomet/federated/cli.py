"""``oligomet run PROTOCOL --federated CONFIG``: the federated run behind the CLI."""
from __future__ import annotations

from pathlib import Path


def run_federated(protocol: Path, config: Path, out: Path, exact: bool | None = None):
    """Run ``protocol`` over the sites of ``config``; write the report (as a pooled run's) to ``out`` and the
    federation's own record (tables, every central output, methods) to ``out/federated``.

    ``exact``: ask the sites for exact per-time tables (each must allow it); default: the federation file's
    ``exact_times`` (false: the privacy grid). Returns (message, StudyResults, central output)."""
    from ..report.html import write_report
    from ..study.protocol_source import load
    from .report import federated_results, report_plan
    from .study import open_federation, summarise, write_summary

    proto = load(protocol)
    text = Path(protocol).read_text(encoding="utf-8")
    fmt = "toml" if Path(protocol).suffix.lower() == ".toml" else "yaml"
    run, exact_times = open_federation(config)   # the mock network or a vantage6 server, from the file
    exact = exact_times if exact is None else exact
    result, _ = run(text, fmt, report_plan(proto, exact=exact))
    res = federated_results(proto, result, exact)
    res.provenance["protocol"] = Path(protocol).name
    write_report(res, out)
    tables = summarise(result, proto)
    write_summary(tables, result, Path(out) / "federated")
    n = int(tables["flow"]["n_remaining"].iloc[-1]) if len(tables["flow"]) else 0
    message = (f"{proto.title}: federated over {len(result['sites'])} site(s), cohort of {n} patients, "
               f"{len(result['refused'])} refusal(s); report written to {Path(out) / 'report.html'}")
    return message, res, result
