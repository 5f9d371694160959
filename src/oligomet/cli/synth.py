"""``oligomet synth``: write the synthetic multicenter registry in the interchange format."""
from __future__ import annotations

import time
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(patients: int = typer.Option(2000, "--patients", "-n", min=1, help="number of synthetic patients"),
              out: Path = typer.Option(..., "--out", "-o", help="output folder (created if absent)"),
              seed: int = typer.Option(0, "--seed", help="random seed; the same seed gives the same data"),
              sites: int = typer.Option(7, "--sites", min=1, max=26, help="number of hospitals (1-26)"),
              fmt: str = typer.Option("csv", "--format", help="csv (one file per table) or xlsx (one workbook)"),
              debug: bool = typer.Option(False, "--debug", help="show the traceback on errors")) -> None:
        """Write the synthetic multicenter registry (CRLM, colorectal and sarcoma lung metastases).

        Every patient is fake (ids SYN-..., sites "Site X (synthetic)"); the effects built in are
        oligomet.datasets.synthetic.TRUE_EFFECTS.
        """
        from oligomet.datasets.synthetic import synthetic_registry, write_registry

        try:
            if fmt not in ("csv", "xlsx"):
                raise ValueError(f"--format must be csv or xlsx, got {fmt!r}")
            t0 = time.perf_counter()
            tables = synthetic_registry(patients, n_sites=sites, seed=seed)
            path = write_registry(tables, out, format=fmt)
        except Exception as exc:  # noqa: BLE001  (one clear message; --debug for the traceback)
            if debug:
                raise
            from ._errors import error_message

            typer.echo(f"error: {error_message(exc)}", err=True)
            raise typer.Exit(code=1) from None
        rows = ", ".join(f"{name} {len(frame)}" for name, frame in tables.items())
        typer.echo(f"wrote {patients} synthetic patients ({sites} sites, seed {seed}) to {path} "
                   f"in {time.perf_counter() - t0:.1f} s: {rows}")
