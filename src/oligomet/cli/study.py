"""``oligomet demo`` / ``oligomet run``: studies as code.

Until the study layer lands, ``demo`` is a short analysis of a bundled public dataset.
"""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(out: Path = typer.Option(Path("demo-report"), help="output folder")) -> None:
        """Run the demo analysis on bundled data and print KM medians and a Cox table."""
        import pandas as pd

        import oligomet as om
        from oligomet.datasets import load

        colon = load("colon")
        deaths = colon[colon["etype"] == 2]
        km = om.kaplan_meier(deaths, time="time", event="status", by="rx")
        fit = om.cox(deaths, time="time", event="status", covariates=["C(rx)", "age", "nodes"])
        out.mkdir(parents=True, exist_ok=True)
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            typer.echo("Colon cancer trial (R survival::colon), overall survival by treatment arm, days\n")
            typer.echo(km.medians.to_string(index=False))
            typer.echo("\nCox proportional hazards (Efron ties)\n")
            typer.echo(fit.summary.round(4).to_string())
        fit.summary.to_csv(out / "cox_colon.csv")
        km.medians.to_csv(out / "km_medians_colon.csv", index=False)
