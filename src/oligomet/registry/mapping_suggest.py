"""``oligomet registry map --suggest DIR``: draft a site mapping from the headers and values a folder holds.

For every CSV / .xlsx file of the folder: the table it most likely holds (its name against table
synonyms), then per column the registry field whose name or shipped synonym (Dutch, German, French,
English; ``mapping_synonyms.yaml``) is closest to the header. Numbered columns (``Laesie1 orgaan``,
``Laesie2 orgaan``) become one ``repeat:`` source of the table their stem names. The values settle the
rest: the decimal mark, the date order, the missing-value tokens, a unit written in a header
(``grootte (cm)``). The draft lists every column's value inventory and proposes value maps from the
shipped synonyms; what it cannot place is left as a ``# TODO`` for the user, never guessed silently.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import pandas as pd

from .fields import TABLE_ORDER, TABLES
from .importers.csvfile import decode, read_records, separator
from .mapping import fold, shipped_synonyms
from .report import ProblemLog

#: Words in file names and column stems that name a table.
TABLE_WORDS = {
    "patients": ["patienten", "patient", "patients", "basis", "baseline", "stammdaten", "patienten_daten",
                 "demografie"],
    "lesions": ["laesie", "laesies", "lesie", "metastase", "metastasen", "lasion", "lasionen", "lesion", "lesions",
                "metastasis"],
    "treatments": ["behandeling", "behandelingen", "therapie", "behandlung", "traitement", "treatment", "treatments"],
    "complications": ["complicatie", "complicaties", "komplikation", "complication", "complications"],
    "events": ["recidief", "recidieven", "followup", "follow_up", "rezidiv", "recidive", "events", "event",
               "progressie", "recurrence"],
    "labs": ["lab", "labs", "labuitslagen", "labor", "laborwerte", "biologie", "laboratory"],
    "mdt_decisions": ["mdo", "mdt", "tumorboard", "rcp", "mdt_decisions"],
    "adverse_events": ["bijwerking", "bijwerkingen", "nebenwirkung", "nebenwirkungen", "toxicite", "toxicity",
                       "ctcae", "adverse_events", "adverse_event"],
}
#: The field an unqualified "datum" / the bare stem means in a table.
MAIN_DATE = {"patients": "primary_diagnosis_date", "lesions": "detection_date", "treatments": "start_date",
             "complications": "date", "events": "date", "labs": "date", "mdt_decisions": "date",
             "adverse_events": "date"}
MAIN_CODE = {"lesions": "organ", "treatments": "modality", "complications": "clavien_dindo", "events": "type",
             "mdt_decisions": "recommendation"}
_UNIT = re.compile(r"[\(\[]?\b(mm|cm|cgy|gy)\b[\)\]]?", re.I)
_NUMBERED = re.compile(r"^(\D*?)[\s_]*(\d+)\b[\s_]*(.*)$")
_DM = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
THRESHOLD = 0.72


@dataclass
class Column:
    file: str
    header: str
    table: str | None = None
    field: str | None = None
    score: float = 0.0
    template: str | None = None       # "Laesie{n} orgaan" for numbered columns
    number: int | None = None
    unit: str | None = None
    values: pd.Series = dc_field(default_factory=lambda: pd.Series(dtype=int))   # value -> count


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    ta, tb = set(a.split("_")), set(b.split("_"))
    if tb <= ta or ta <= tb:
        # "datum_diagnose" vs "diagnose_datum"; "grootte" inside "laesie_grootte"
        return 0.9 - 0.02 * abs(len(ta) - len(tb))
    return difflib.SequenceMatcher(None, a, b).ratio()


def _table_of(name: str) -> tuple[str | None, float]:
    f = fold(name)
    best, score = None, 0.0
    for t, words in TABLE_WORDS.items():
        for w in words:
            s = _similarity(f, w)
            if s > score:
                best, score = t, s
    return best, score


def _best_field(header: str, table: str) -> tuple[str | None, float]:
    h = fold(_UNIT.sub(" ", header))
    if h in ("", "datum", "date", "dat"):
        return (MAIN_DATE[table], 0.8) if h else (MAIN_CODE.get(table), 0.75)
    synonyms = shipped_synonyms()["headers"]
    best, score = None, 0.0
    for f in TABLES[table].field_names:
        for cand in [f] + list(synonyms.get(f, [])):
            s = _similarity(h, fold(cand))
            if s > score:
                best, score = f, s
    return best, score


def _read_columns(path: Path) -> list[tuple[str, pd.Series]]:
    log = ProblemLog()
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from .importers.workbook import Workbook, read_sheet

        book = Workbook(path)
        try:
            header, frame = read_sheet(book, book.sheetnames[0], "patients", log)
        finally:
            book.close()
    else:
        split = read_records(decode(path.read_bytes(), path.name, "patients", log), path.name, "patients", log)
        if split is None:
            return []
        header, frame = split
    return [(str(h), frame[i].astype(object)) for i, h in enumerate(header) if str(h).strip()]


@dataclass
class Suggestion:
    """The draft: ``columns`` (one per source column, with the proposed table and field) and ``text``."""

    columns: list[Column]
    text: str

    def proposed(self) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        return {(c.file, c.header): (c.table, c.field) for c in self.columns}


def suggest_mapping(folder) -> Suggestion:
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx", ".xlsm"))
    columns: list[Column] = []
    settings = {"decimal": ".", "day_first": False, "month_first": False, "missing": set()}
    missing_words = {str(t).casefold() for t in shipped_synonyms()["missing"]}
    for path in files:
        table, tscore = _table_of(path.stem)
        table = table if tscore >= 0.6 else "patients"
        if path.suffix.lower() == ".csv":
            first = path.read_text(encoding="utf-8", errors="replace").lstrip().split("\n", 1)[0]
            if separator(first) == ";":
                settings["decimal"] = ","
        for header, values in _read_columns(path):
            col = Column(path.name, header)
            text = values.map(lambda v: None if v is None else str(v).strip()).replace("", None).dropna()
            col.values = text.value_counts()
            for v in col.values.index:
                if v.casefold() in missing_words:
                    settings["missing"].add(v)
                m = _DM.match(v)
                if m:
                    a, b = int(m.group(1)), int(m.group(2))
                    settings["day_first"] |= a > 12 >= b
                    settings["month_first"] |= b > 12 >= a
            unit = _UNIT.search(header)
            col.unit = unit.group(1).lower() if unit else None
            m = _NUMBERED.match(header)
            stem_table = None
            if m and m.group(1).strip():
                stem_table, s = _table_of(m.group(1))
                stem_table = stem_table if s >= 0.75 else None
            if stem_table is not None:
                col.number = int(m.group(2))
                col.template = header[:m.start(2)] + "{n}" + header[m.end(2):]
                col.table = stem_table
                col.field, col.score = _best_field(m.group(3), stem_table)
            else:
                col.table = table
                col.field, col.score = _best_field(header, table)
                if col.score < THRESHOLD:   # a patients column in another file, or a file with several tables
                    for t in TABLE_ORDER:
                        f, s = _best_field(header, t)
                        if s > col.score + 0.05:
                            col.table, col.field, col.score = t, f, s
            if col.score < THRESHOLD:
                col.table = col.field = None
            columns.append(col)
    return Suggestion(columns, _draft(columns, settings))


def _q(v) -> str:
    return json.dumps(str(v), ensure_ascii=False)


# complexity: writes the draft file section by section, each optional section behind its own test
def _draft(columns: list[Column], settings) -> str:  # noqa: C901
    from .mapping import value_map, SiteMapping

    lines = ["# Draft site mapping written by `oligomet registry map --suggest`. Check every line: the",
             "# proposed fields are guesses from the headers, the value maps from shipped synonyms.",
             "mapping: 1", "site: null   # TODO: the site name, unless a column gives it"]
    lines.append(f"decimal: {_q(settings['decimal'])}")
    if settings["day_first"] != settings["month_first"]:
        lines.append(f"date_order: {'DMY' if settings['day_first'] else 'MDY'}   # settled by the dates seen")
    else:
        lines.append("date_order: null   # TODO: DMY or MDY if dates are not YYYY-MM-DD")
    lines.append("missing: [" + ", ".join(_q(v) for v in sorted(settings["missing"])) + "]")
    empty = SiteMapping.model_validate({"tables": {}})
    value_lines, unit_lines = [], []
    by_source: dict[tuple[str, str], list[Column]] = {}
    for c in columns:
        if c.table is not None:
            by_source.setdefault((c.table, c.file), []).append(c)
    table_lines = ["tables:"]
    for t in TABLE_ORDER:
        sources = [(f, cs) for (tt, f), cs in by_source.items() if tt == t]
        if not sources:
            continue
        table_lines.append(f"  {t}:")
        for f, cs in sources:
            table_lines.append(f"    - file: {_q(f)}")
            numbers = sorted({c.number for c in cs if c.number is not None})
            if numbers:
                table_lines.append(f"      repeat: [{', '.join(map(str, numbers))}]")
            table_lines.append("      columns:")
            seen = set()
            pid = next((c for c in columns if c.file == f and c.field == "patient_id"), None)
            if pid is not None and not any(c.field == "patient_id" for c in cs):
                table_lines.append(f"        patient_id: {_q(pid.header)}")
            for c in cs:
                header = c.template or c.header
                if (c.field, header) in seen or c.field in {s[0] for s in seen}:
                    continue
                seen.add((c.field, header))
                table_lines.append(f"        {c.field}: {_q(header)}   # score {c.score:.2f}")
                spec = TABLES[t].get(c.field)
                if spec.type in ("code", "bool"):
                    known = value_map(empty, t, c.field)
                    vals = [v for c2 in cs if c2.field == c.field for v in c2.values.index]
                    entries = []
                    for v in dict.fromkeys(vals):
                        if v in settings["missing"]:
                            continue
                        target = known.get(fold(v))
                        ok = target is not None or fold(v) in {fold(x) for x in spec.codes} or spec.type == "bool" \
                            and fold(v) in ("0", "1", "yes", "no", "true", "false")
                        entries.append(f"{_q(v)}: {_q(target) if target else 'null'}" + ("" if ok else "  # TODO"))
                    if entries:
                        value_lines.append(f"  {t}.{c.field}: {{{', '.join(e.split('  #')[0] for e in entries)}}}"
                                           + ("   # TODO: fill the nulls" if any("TODO" in e for e in entries) else ""))
                if c.unit and c.field.endswith(("_mm", "_gy")) and c.unit not in ("mm", "gy"):
                    unit_lines.append(f"  {t}.{c.field}: {c.unit}")
            table_lines.append("      # TODO: ids the source does not hold, e.g. computed: {lesion_id: "
                               "\"`Patient` + '-L' + n\"}" if t in ("lesions", "treatments") else "")
            table_lines = [ln for ln in table_lines if ln != ""]
    lines += ["values:"] + (value_lines or ["  {}"]) if value_lines else ["values: {}"]
    lines += ["units:"] + unit_lines if unit_lines else ["units: {}"]
    lines += table_lines
    lines.append("")
    lines.append("# Value inventory per column (value: count), and columns left unmapped:")
    for c in columns:
        inv = ", ".join(f"{v} ({n})" for v, n in c.values.head(12).items())
        more = f", ... {len(c.values) - 12} more" if len(c.values) > 12 else ""
        where = f"{c.table}.{c.field}" if c.table else "UNMAPPED"
        lines.append(f"#   {c.file}: {c.header!r} -> {where}: {inv}{more}")
    return "\n".join(lines) + "\n"
