"""``validate(tables)``: every registry rule, vectorised, all problems at once.

The rules (ids, classes and severities in :data:`oligomet.registry.rules.RULES`) run on whole
columns with pandas joins and comparisons; nothing loops over rows, so 100,000 patients
(~1M rows over all tables) validate in a few seconds.
"""
from __future__ import annotations

import pandas as pd

from .._validation import lock_date
from ._processes import processes_for_rows, run_tasks
from .fields import TABLES
from .io import conform_memory, read_registry
from .parse import _DTYPES
from .report import ProblemLog, ValidationReport
from .rules import chronology, clinical, followup, ids, structure
from .rules.context import Context

#: Every check, in the order its problems are logged (which orders problems of the same table row).
_CHECKS = (
    structure.check_required, structure.check_codes, structure.check_duplicates, structure.check_references,
    ids.check_id_length, ids.check_identifier_values, ids.check_pseudonyms,
    chronology.check_death, chronology.check_after_death_and_lock, chronology.check_treatment_order,
    chronology.check_local_recurrence, chronology.check_lesion_dates, chronology.check_recurrence_organ,
    clinical.check_clavien_dindo, clinical.check_measurements,
    clinical.check_sabr, clinical.check_resection_detail, clinical.check_adverse_events, followup.check_followup,
)

#: The checks in groups of about equal time (~0.3 CPU-seconds each at 100,000 patients), each group run in a
#: process of its own (``_processes``). The ids of every table are numbered before (``Context.build``);
#: the first group holds the checks that read code columns through ``Context.coded`` (found once per
#: process), the second the duplicate, id and identifier checks. Each check is in one group.
_GROUPS = (
    (structure.check_required, structure.check_codes, structure.check_references, chronology.check_death,
     chronology.check_after_death_and_lock, chronology.check_treatment_order, chronology.check_local_recurrence,
     chronology.check_lesion_dates, clinical.check_clavien_dindo, clinical.check_measurements, clinical.check_sabr,
     clinical.check_resection_detail, clinical.check_adverse_events, followup.check_followup),
    (structure.check_duplicates, ids.check_id_length, ids.check_identifier_values, ids.check_pseudonyms,
     chronology.check_recurrence_organ),
)


def _is_contract(tables: dict[str, pd.DataFrame]) -> bool:
    """True when ``tables`` already has every table with exactly the contract's columns and dtypes."""
    for name, table in TABLES.items():
        frame = tables.get(name)
        if frame is None or list(frame.columns) != table.field_names:
            return False
        for f in table.fields:
            want = _DTYPES.get(f.type, "object")
            if str(frame[f.name].dtype) != want:
                return False
    return set(tables) <= set(TABLES)


def validate(tables: dict[str, pd.DataFrame], data_lock=None) -> ValidationReport:
    """Check a registry against every rule; returns all problems (never raises on bad data).

    Parameters
    ----------
    tables : the in-memory registry (``read_registry`` output, ``Store.load()``, or your own
        frames: these are first parsed into the contract, so strings are fine and their parse
        problems are reported too).
    data_lock : date (str ``YYYY-MM-DD``, date or Timestamp) after which no date may lie.

    Returns
    -------
    ValidationReport with ``.problems`` (one row per problem), ``.errors``, ``.warnings``, ``.ok``.
    """
    parse_log = ProblemLog()
    if not _is_contract(tables):
        tables = conform_memory(tables, parse_log)
        # Checking frames is not importing them: whether a key vouches for a pseudonym column is
        # decided where a source is read (read_registry, Store.import_registry). Values that are
        # not 64-hex digests are still refused, by pseudonym_not_hmac.
        parse_log = _without_rule(parse_log, "pseudonym_without_key")
    log = ProblemLog()
    ctx = Context.build(tables, log, data_lock)
    rows = sum(len(frame) for frame in ctx.tables.values())
    done = run_tasks(_run_checks, {group: (ctx, group) for group in _GROUPS},
                     processes=processes_for_rows(rows))
    logs, redact_values = {}, set()
    for group_logs, group_redact in done.values():
        logs.update(group_logs)
        redact_values |= group_redact
    for check in _CHECKS:   # as if they had run one after another here
        log.merge(logs[check.__name__])
    # Identifier values found by the id rules are masked in every problem (e.g. a BSN used as the
    # patient_id of a row with another problem); the report remembers them, so that ``combine``
    # masks them in a reader's problems too.
    return ids.redact(combine(parse_log.report(), log.report()), redact_values)


def _run_checks(ctx: Context, checks) -> tuple[dict[str, ProblemLog], set]:
    """Run ``checks`` on ``ctx``: {check's name: its problems}, and the identifier values to redact.

    In a forked worker (``_processes``), ``ctx`` and its tables are this process's, inherited as they
    are; only the problems and values found come back. Here, the groups share ``ctx`` and what it
    has found (each check is given a log of its own, then ``ctx.log`` is put back).
    """
    logs, log = {}, ctx.log
    try:
        for check in checks:
            ctx.log = logs[check.__name__] = ProblemLog()
            check(ctx)
    finally:
        ctx.log = log
    return logs, set(ctx.__dict__.get("redact_values", ()))


def _without_rule(log: ProblemLog, rule: str) -> ProblemLog:
    kept = ProblemLog()
    frame = log.frame()
    kept.extend(ValidationReport(frame[frame["rule"] != rule]))
    return kept


def combine(read_report: ValidationReport, rule_report: ValidationReport) -> ValidationReport:
    """Merge parse and rule problems: a cell that failed to parse is not also reported as empty."""
    parse = read_report.problems
    rules = rule_report.problems
    if len(parse) and len(rules):
        bad_cells = set(zip(parse["table"], parse["row"], parse["field"]))
        absent = set(zip(parse.loc[parse["rule"] == "missing_column", "table"],
                         parse.loc[parse["rule"] == "missing_column", "field"]))
        req = rules[rules["rule"] == "required_missing"]
        drop = [(t, r, f) in bad_cells or (t, f) in absent
                for t, r, f in zip(req["table"], req["row"], req["field"])]
        rules = rules.drop(index=req.index[pd.Series(drop, index=req.index, dtype=bool).to_numpy()])
    both = pd.concat([parse, rules], ignore_index=True)
    both = both.drop_duplicates(subset=["severity", "table", "row", "field", "rule", "patient_id", "message"])
    return ids.redact(ValidationReport(both), ids.redacted(read_report) | ids.redacted(rule_report))


def check_registry(path, format: str | None = None, *, data_lock=None, date_format: str | None = None,
                   identifier_key=None) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Read ``path`` and validate it: (tables, parse + rule problems together). ``data_lock`` is ISO
    ``YYYY-MM-DD`` or in ``date_format``, checked before anything is read."""
    from pathlib import Path

    from .io import detect_format

    data_lock = lock_date(data_lock, date_format=date_format, declare="declare its format with date_format")
    if format == "fhir" or (format is None and Path(path).exists() and detect_format(Path(path)) == "fhir"):
        from .importers.fhir import check_fhir   # problems told in the bundle's terms (entry, element)

        return check_fhir(path, data_lock=data_lock, identifier_key=identifier_key)
    tables, read_report = read_registry(path, format, date_format=date_format, identifier_key=identifier_key)
    return tables, combine(read_report, validate(tables, data_lock=data_lock))
