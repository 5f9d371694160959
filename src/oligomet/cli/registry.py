"""``oligomet registry ...`` commands: validate, import, map, export, imports, quality, upgrade (a thin shell over
``oligomet.registry``).

Exit codes: 0 = fine (warnings allowed), 1 = the registry has errors / the import was rejected,
2 = bad command-line arguments (typer's usage errors).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True)

_FORMAT = typer.Option(None, "--format", help="csv (folder), excel, redcap or fhir; detected when omitted.")
_DATE_FORMAT = typer.Option(None, "--date-format",
                            help="Order of non-ISO dates: DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, MM/DD/YYYY.")
_DATA_LOCK = typer.Option(None, "--data-lock", help="Data-lock date (YYYY-MM-DD, or in the --date-format): no date may "
                          "lie after it.")
_KEY_FILE = typer.Option(None, "--identifier-key-file",
                         help="File holding the secret key for hashing direct identifier columns "
                              "(or set OLIGOMET_IDENTIFIER_KEY).")
_PLAIN = typer.Option(False, "--plain", help="Plain text instead of a rich table.")
_DB = typer.Option(None, "--db", help="Database URL or SQLite file (default: sqlite file oligomet.sqlite).")
_DEBUG = typer.Option(False, "--debug", help="Show the traceback on unexpected errors.")
_REDCAP_URL = typer.Option(None, "--redcap-url", help="Export the project from this REDCap API (https://.../api/) into "
                                                       "PATH (a folder), then read that export.")
_REDCAP_TOKEN = typer.Option(None, "--redcap-token-file", help="File holding the project's REDCap API token "
                                                               "(never printed or stored).")
_MAPPING = typer.Option(None, "--mapping", help="Site mapping file (YAML): read PATH, a folder of the site's own "
                                                "export, through it (see docs/registry.md).")


def _key(key_file: Optional[Path]) -> str | None:
    if key_file is not None:
        return key_file.read_text(encoding="utf-8").strip()
    return os.environ.get("OLIGOMET_IDENTIFIER_KEY") or None


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _from_redcap_api(path: Path, url: Optional[str], token_file: Optional[Path]) -> Path:
    """With --redcap-url: download the project's export into the folder ``path``; the export file to read."""
    if url is None and token_file is None:
        return path
    if url is None or token_file is None:
        _fail("--redcap-url and --redcap-token-file go together")
    from oligomet.registry.importers.redcap_api import RedcapApiError, download_export, read_token

    try:
        export = download_export(url, read_token(token_file), path)
    except (RedcapApiError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"downloaded {export.name} and its data dictionary into {path}", err=True)
    return export


def _lock(data_lock: str | None, date_format: str | None) -> str | None:
    """--data-lock as ISO text: YYYY-MM-DD, or in the --date-format; anything else stops here."""
    from oligomet._validation import lock_date

    try:
        lock = lock_date(data_lock, date_format=date_format, what="--data-lock", declare="declare its format "
                         "with --date-format (e.g. --date-format DD-MM-YYYY)")
    except ValueError as exc:
        _fail(str(exc))
    return None if lock is None else lock.date().isoformat()


_RICH_MAX = 500  # beyond this a rich table takes long to lay out; the full listing is printed plain


def _print_report(report, plain: bool) -> None:
    if len(report.problems) > 20:
        counts = report.counts()
        by_rule = ", ".join(f"{r.rule} {r.n}" for r in counts.itertuples(index=False))
    if plain or not len(report.problems) or len(report.problems) > _RICH_MAX:
        typer.echo(report.to_text())
        if len(report.problems) > 20:
            typer.echo(f"by rule: {by_rule}")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if not console.is_terminal and console.width < 160:
        console = Console(soft_wrap=False, width=200)  # piped output: don't fold into a narrow column
    table = Table(title=report.summary(), show_lines=False)
    for col in ("severity", "table", "row", "patient_id", "field", "value", "rule", "message"):
        table.add_column(col, overflow="fold")
    for p in report.problems.itertuples(index=False):
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(*[("" if v is None else str(v)) for v in p], style=style)
    console.print(table)
    console.print(report.summary())
    if len(report.problems) > 20:
        console.print(f"by rule: {by_rule}")


@app.command("validate")
def validate_cmd(
    path: Path = typer.Argument(..., help="Folder of <table>.csv, .xlsx workbook, REDCap export .csv, FHIR Bundle "
                                          ".json (or a folder of them); with --redcap-url, the folder to export to."),
    data_lock: Optional[str] = _DATA_LOCK,
    format: Optional[str] = _FORMAT,
    date_format: Optional[str] = _DATE_FORMAT,
    identifier_key_file: Optional[Path] = _KEY_FILE,
    plain: bool = _PLAIN,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write all problems to this CSV."),
    debug: bool = _DEBUG,
    mapping: Optional[Path] = _MAPPING,
    redcap_url: Optional[str] = _REDCAP_URL,
    redcap_token_file: Optional[Path] = _REDCAP_TOKEN,
) -> None:
    """Check a registry against every rule and print all problems; exit 1 when there are errors."""
    from oligomet.registry import check_registry

    path = _from_redcap_api(path, redcap_url, redcap_token_file)
    if mapping is not None and (format is not None or date_format is not None):
        _fail("--mapping declares the files, the date order and the decimal mark; drop --format and --date-format")
    data_lock = _lock(data_lock, date_format)
    try:
        if mapping is not None:
            from oligomet.registry.mapping import check_mapped

            _, report = check_mapped(path, mapping, data_lock=data_lock, identifier_key=_key(identifier_key_file))
        else:
            _, report = check_registry(path, format, data_lock=data_lock, date_format=date_format,
                                       identifier_key=_key(identifier_key_file))
    except Exception as exc:  # noqa: BLE001  (one clear line; --debug for the traceback)
        if debug:
            raise
        from ._errors import error_message

        _fail(error_message(exc))
    _print_report(report, plain)
    if output is not None:
        from oligomet._spreadsheet import csv_safe_frame

        # problems quote source values: a "=HYPERLINK(...)" cell must not run when the CSV is opened
        csv_safe_frame(report.problems).to_csv(output, index=False)
    raise typer.Exit(0 if report.ok else 1)


@app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="Folder of <table>.csv, .xlsx workbook, REDCap export .csv, FHIR Bundle "
                                          ".json (or a folder of them); with --redcap-url, the folder to export to."),
    db: Optional[str] = _DB,
    data_lock: Optional[str] = _DATA_LOCK,
    format: Optional[str] = _FORMAT,
    date_format: Optional[str] = _DATE_FORMAT,
    identifier_key_file: Optional[Path] = _KEY_FILE,
    plain: bool = _PLAIN,
    allow_deletions: bool = typer.Option(
        False, "--allow-deletions",
        help="Accept a source with no rows in a table where the store holds rows of its patients (they are "
             "deleted). Refused by default: it is usually a partial export."),
    statement_timeout: Optional[float] = typer.Option(
        None, "--statement-timeout",
        help="Seconds a PostgreSQL import statement may run, and an import may wait for another one's lock, "
             "before the import is rolled back (default 900)."),
    debug: bool = _DEBUG,
    mapping: Optional[Path] = _MAPPING,
    redcap_url: Optional[str] = _REDCAP_URL,
    redcap_token_file: Optional[Path] = _REDCAP_TOKEN,
    site: Optional[str] = typer.Option(
        None, "--site",
        help="The hospital whose whole export PATH is: its ids are stored as SITE:id (two sites' patient 17 never "
             "collide) and the import replaces that site's rows, and no other site's (see docs/registry.md)."),
) -> None:
    """Validate, then write the registry to the database in one transaction (all or nothing)."""
    from oligomet.registry import Store
    from oligomet.registry.mapping import MappingError

    if mapping is not None and (format is not None or date_format is not None):
        _fail("--mapping declares the files, the date order and the decimal mark; drop --format and --date-format")
    path = _from_redcap_api(path, redcap_url, redcap_token_file)
    data_lock = _lock(data_lock, date_format)
    try:
        store = Store(db, **({} if statement_timeout is None else {"statement_timeout": statement_timeout}))
        result = store.import_registry(path, data_lock=data_lock, identifier_key=_key(identifier_key_file),
                                       format=format, date_format=date_format, allow_deletions=allow_deletions,
                                       site=site, mapping=mapping)
    except MappingError as exc:   # every problem with its file:line, not just the first line
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001  (bad URL, unreachable server, ...: one clear line)
        if debug:
            raise
        _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
    if len(result.report.problems):
        _print_report(result.report, plain)
    typer.echo(str(result).splitlines()[0] + f" into {store!r}")
    for line in result.stored_lines():  # what the import changed (or would have), per table
        typer.echo(f"  {line}")
    store.close()
    raise typer.Exit(0 if result.ok else 1)


def _open_read_only(db: Optional[str]):
    """Reading commands never migrate or write; a store of another schema version is one clear line."""
    from oligomet.registry import Store

    try:
        return Store.open_read_only(db)
    except Exception as exc:  # noqa: BLE001
        _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])


@app.command("map")
def map_cmd(
    folder: Path = typer.Argument(..., help="Folder of the site's own export (CSV files, .xlsx workbooks)."),
    suggest: bool = typer.Option(False, "--suggest", help="Draft a mapping from the headers and values seen."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the draft here (default: print)."),
) -> None:
    """Draft a site mapping file (YAML) to edit, then use with validate/import --mapping."""
    from oligomet.registry.mapping_suggest import suggest_mapping

    if not suggest:
        _fail("say what to do: oligomet registry map --suggest FOLDER [-o mapping.yaml]")
    if not folder.is_dir():
        _fail(f"{folder} is not a folder")
    draft = suggest_mapping(folder)
    if output is None:
        typer.echo(draft.text, nl=False)
    else:
        output.write_text(draft.text, encoding="utf-8")
        mapped = sum(c.field is not None for c in draft.columns)
        typer.echo(f"wrote {output}: {mapped} of {len(draft.columns)} columns placed; check every line marked TODO")


@app.command("export")
def export_cmd(
    out: Path = typer.Argument(..., help="Folder (csv) or .xlsx file to write."),
    db: Optional[str] = _DB,
    format: str = typer.Option("csv", "--format", help="csv (folder of tables) or excel (one .xlsx)."),
) -> None:
    """Write the stored registry in the interchange format."""
    from oligomet.registry import write_registry

    store = _open_read_only(db)
    try:
        write_registry(store.load(), out, format=format)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        store.close()
    typer.echo(f"wrote {out}")


@app.command("imports")
def imports_cmd(db: Optional[str] = _DB) -> None:
    """List the provenance of every import (time, source, hash, rows per table)."""
    store = _open_read_only(db)
    frame = store.imports()
    store.close()
    if frame.empty:
        typer.echo("no imports")
        return
    frame["source_sha256"] = frame["source_sha256"].str[:12]
    typer.echo(frame.drop(columns=["files"]).to_string(index=False))


@app.command("quality")
def quality_cmd(
    db: Optional[str] = _DB,
    out: Path = typer.Option(..., "--out", help="Folder to write quality.html (the heat map) and quality.csv into."),
    data_lock: Optional[str] = typer.Option(
        None, "--data-lock", help="Date (YYYY-MM-DD) Clark's C counts potential follow-up to, and the rules check "
                                  "dates against; default: the latest data lock of an import, else the latest "
                                  "death or last contact date."),
) -> None:
    """Data quality per site, side by side: completeness per field, rule violations per 100 patients,
    follow-up completeness (Clark's C)."""
    from oligomet.registry.quality import quality_summary
    from oligomet.registry.quality_html import write_quality

    store = _open_read_only(db)
    try:
        tables, locks = store.load(), store.imports()["data_lock"].tolist()
    finally:
        store.close()
    if tables["patients"].empty:
        _fail("the store holds no patients; import a registry first")
    try:
        summary = quality_summary(tables, _lock(data_lock, None), import_locks=locks)
    except ValueError as exc:
        _fail(str(exc))
    page = write_quality(summary, out)
    clark = summary.frame[summary.frame["measure"] == "followup"]
    n = len(summary.sites)
    typer.echo(f"wrote {page} and quality.csv: {n} site{'s' if n != 1 else ''}, data lock "
               f"{summary.data_lock:%Y-%m-%d}; Clark's C " +
               ", ".join(f"{r.site} {r.value:.2f}" for r in clark.itertuples(index=False)))


@app.command("upgrade")
def upgrade_cmd(db: Optional[str] = _DB) -> None:
    """Migrate a store to the schema revision of this oligomet (also done by every import)."""
    from oligomet.registry import Store

    try:
        store = Store(db)
    except Exception as exc:  # noqa: BLE001
        _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
    typer.echo(f"{store!r} is at the current schema revision")
    store.close()
