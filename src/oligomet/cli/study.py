"""``oligomet run`` / ``oligomet demo`` / ``oligomet validate-protocol``: studies as code.

Errors are printed as one clear message (the protocol problems, one per line, with file and
line) and exit with status 1; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import typer

from ._errors import error_message

DEMO_PATIENTS = 5000
DEMO_SEED = 20240601
DEMO_PROTOCOLS = ("salvage_after_sabr.toml", "crlm_early_recurrence.yaml", "crlm_ablation_timing.toml",
                  "sarcoma_lung_metastasectomy.toml", "salvage_resection_after_local_recurrence.toml")


def examples_dir() -> Path:
    """The repository's ``examples/`` folder (the demo protocols)."""
    import oligomet

    here = Path(oligomet.__file__).resolve()
    for parent in here.parents:
        cand = parent / "examples"
        if cand.is_dir() and any(cand.glob("*.toml")):
            return cand
    raise FileNotFoundError("cannot find the examples/ folder with the demo protocols; run from a clone of the "
                            "oligomet repository")


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {error_message(exc)}", err=True)
    raise typer.Exit(code=1)


def _summary(study) -> str:
    text = study.results.results_text
    return " ".join(text[1:3] if len(text) > 2 else text)


def _data_summary(found) -> str:
    """What validate-protocol found in the data (a DataCheck), or that it did not look."""
    if found is None:
        return "data not checked (--file-only)"
    groups = "" if not found.groups else f" ({', '.join(f'{g} {n}' for g, n in found.groups.items())})"
    return f"data checked: a cohort of {found.n_cohort} of {found.n_registry} patients{groups}"


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(protocol: Path = typer.Argument(..., help="study protocol (.toml, .yaml or .yml)"),
            out: Path = typer.Option(Path("report"), "--out", "-o", help="output folder of the report"),
            federated: Path = typer.Option(None, "--federated", help="federation file ('mock: <folder of sites>' or "
                                           "'server:' a vantage6 installation): "
                                           "run across sites, only aggregates leave them (docs/federated.md)"),
            debug: bool = typer.Option(False, "--debug", help="show the traceback on errors")) -> None:
        """Run a study protocol and write its report (HTML, figures, tables, results.json)."""
        import warnings

        if federated is not None:
            from oligomet.federated.cli import run_federated

            try:
                typer.echo(run_federated(protocol, federated, out)[0])
            except Exception as exc:  # noqa: BLE001
                _fail(exc, debug)
            return

        from oligomet.study import run_study

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # estimator warnings are collected into the report
                t0 = time.perf_counter()
                study = run_study(protocol, out=out, progress=sys.stderr.isatty())
        except Exception as exc:  # noqa: BLE001  (one clear message; --debug for the traceback)
            _fail(exc, debug)
        typer.echo(f"{study.protocol.title}: cohort of {len(study.cohort)} patients; report written to "
                   f"{out / 'report.html'} ({time.perf_counter() - t0:.1f} s)")
        if study.results.warnings:
            typer.echo(f"{len(study.results.warnings)} warning(s); see the report's 'Warnings' section", err=True)

    @app.command("validate-protocol")
    def validate_protocol(protocol: Path = typer.Argument(..., help="study protocol (.toml, .yaml or .yml)"),
                          file_only: bool = typer.Option(False, "--file-only", help="check the file alone, not "
                                                         "against its data source"),
                          debug: bool = typer.Option(False, "--debug", help="show the traceback on errors")
                          ) -> None:
        """Check a protocol without running its analyses: the file, then every check `run` makes before its first
        analysis, on the protocol's data (unknown columns, codes, derive expressions, reference levels, empty
        cohort or groups, landmarks, RMST tau, empty subgroup cells)."""
        import warnings

        from oligomet.study import load_protocol
        from oligomet.study.catalogue import requested
        from oligomet.study.preflight import check_against_data

        try:
            proto = load_protocol(protocol)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # as `run`: estimator warnings are not protocol problems
                found = None if file_only else check_against_data(proto)
        except Exception as exc:  # noqa: BLE001
            _fail(exc, debug)
        used = [a.key for a in requested(proto.analyses)]
        typer.echo(f"{protocol}: valid ({len(proto.endpoints)} endpoint(s), {len(proto.covariates)} covariate(s); "
                   f"analyses: {', '.join(used) or 'none'}); {_data_summary(found)}")

    @app.command("demo")
    def demo(out: Path = typer.Option(Path("demo-report"), "--out", "-o", help="output folder"),
             patients: int = typer.Option(DEMO_PATIENTS, help="size of the synthetic registry"),
             debug: bool = typer.Option(False, "--debug", help="show the traceback on errors")) -> None:
        """Run the four example studies on the embedded synthetic registry; write one report each + index.html."""
        import warnings

        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from oligomet.datasets import synthetic_registry
        from oligomet.report.html import write_index
        from oligomet.study import load_protocol, run_study
        from oligomet.study.cohort import data_hash

        try:
            t0 = time.perf_counter()
            folder = examples_dir()
            entries = []
            with warnings.catch_warnings(), Progress(TextColumn("{task.description}"), BarColumn(),
                                                     TextColumn("{task.completed}/{task.total}"),
                                                     TimeElapsedColumn(), transient=True,
                                                     disable=not sys.stderr.isatty()) as bar:
                warnings.simplefilter("ignore")
                task = bar.add_task("synthetic registry", total=len(DEMO_PROTOCOLS) + 2)
                tables = synthetic_registry(patients, seed=DEMO_SEED)
                dhash = data_hash(tables)   # hashed once: the four studies read these frames and never change them
                bar.advance(task)
                for name in DEMO_PROTOCOLS:
                    proto = load_protocol(folder / name)
                    bar.update(task, description=proto.name)
                    # one registry for all four studies (each protocol names the same synthetic source)
                    study = run_study(proto, out=out / proto.name, tables=tables, source={
                        "data_source": "synthetic",
                        "synthetic": {"n_patients": patients, "seed": DEMO_SEED, "n_sites": 7}}, data_sha256=dhash)
                    entries.append({"title": proto.title, "href": f"{proto.name}/report.html",
                                    "summary": _summary(study)})
                    bar.advance(task)
                from oligomet.federated.demo import demo_entries   # issue 13: pooled vs federated, same registry
                # vantage6's mock network prints a line per node call (about a thousand) to stdout: keep them
                # in a log beside the federated reports instead of on the user's terminal
                (out / "federated").mkdir(parents=True, exist_ok=True)
                with open(out / "federated" / "vantage6.log", "w", encoding="utf-8") as v6log, \
                        contextlib.redirect_stdout(v6log):
                    entries += demo_entries(tables, out / "federated", folder, patients, DEMO_SEED, bar, task)
                from oligomet.board.demo import write_demo_sheets   # issue 11: board sheets, same registry
                sheets = write_demo_sheets(tables, out / "board")
                entries.append({"title": "Tumor-board sheets for synthetic patients", "href": "board/index.html",
                                "summary": f"{len(sheets)} sheets: every cell of Table 4 and each study's suggestion"})
            index = write_index(entries, out, title="oligomet demo: the example studies on the synthetic registry")
        except Exception as exc:  # noqa: BLE001
            _fail(exc, debug)
        for e in entries:
            typer.echo(f"  {e['title']}\n    {out / e['href']}")
        typer.echo(f"demo: {len(entries)} reports on a synthetic registry of {patients} patients in "
                   f"{time.perf_counter() - t0:.1f} s; open {index}")
