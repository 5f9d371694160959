"""``oligomet run PROTOCOL --federated FOLDER``: a federated run of the demo protocol over the 7 site folders."""
from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from federated_sites import protocol_text


def test_run_federated_writes_the_report_tables_and_methods(exact_sites, pooled, tmp_path):
    from oligomet.cli import app

    proto = tmp_path / "study.yaml"
    proto.write_text(protocol_text(), encoding="utf-8")
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["run", str(proto), "--federated", str(exact_sites[0].parents[1]),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "federated over 7 site(s), cohort of 765 patients" in res.output
    assert (out / "report.html").is_file() and (out / "results.json").is_file() and (out / "report.docx").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "federated" in html and "Site G (synthetic)" in html and "Kaplan" in html
    out = out / "federated"
    flow = pd.read_csv(out / "flow.csv")
    assert flow["n_remaining"].tolist() == pooled[1]["n_remaining"].tolist()
    cox = pd.read_csv(out / "cox.csv")
    assert set(cox["baseline"]) == {"site_strata", "shared"} and set(cox["endpoint"]) == {"os", "pfs"}
    assert len(pd.read_csv(out / "km_medians.csv")) == 4 and len(pd.read_csv(out / "logrank.csv")) == 2
    methods = (out / "methods.md").read_text()
    assert "federated" in methods and "Site G (synthetic)" in methods
    assert json.loads((out / "federated.json").read_text())["sites"][0] == "Site A (synthetic)"


def test_run_federated_names_the_problems_of_a_server_file(tmp_path):
    from oligomet.cli import app

    proto = tmp_path / "study.yaml"
    proto.write_text(protocol_text(), encoding="utf-8")
    fed = tmp_path / "federation.yaml"
    fed.write_text("server: https://vantage6.example.org\ncollaboration: 1\n")
    res = CliRunner().invoke(app, ["run", str(proto), "--federated", str(fed)])
    assert res.exit_code == 1 and "invalid federation file" in res.output
    assert f"{fed}:1: server:" in res.output and f"{fed}:2: collaboration: unknown key" in res.output
