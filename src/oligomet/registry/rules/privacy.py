"""Personal identifiers in cell *values*, and pseudonyms that are not keyed hashes (never stored).

Column names catch a ``bsn`` column (``identifiers.py``); these rules catch a BSN typed as the
``patient_id``, or an e-mail address in ``histology``. Checked: every id column (``patient_id``,
``lesion_id``, ``treatment_id`` and each id of ``lesion_ids``) and every free-text column (the
``str`` fields that are not ids). Recognised:

* a Dutch citizen service number (BSN): 9 digits (``123456782``, ``1234.56.782``,
  ``123 456 782``) that pass the 11-test ``9*d1 + 8*d2 + ... + 2*d8 - d9 = 0 (mod 11)``;
* a UK NHS number (and Scotland's CHI number): 10 digits (``9434765919``, ``943 476 5919``) whose
  last digit is the mod-11 check digit of the first nine (weights 10..2);
* an e-mail address;
* a phone number: ``+`` and 10-15 digits, ``00`` + country code and 11-15 digits, or a national
  number of 10-11 digits starting with a single ``0``, in groups separated by single spaces or
  hyphens (``06-12345678``, ``+31 (0)20 123 4567``, ``07700 900123``).

False positives are kept low on purpose: a number must stand alone (not part of a longer number
or of a decimal), numbers starting with ``00`` (zero-padded counters) are never a BSN or NHS
number, and a digit chain holding a date (``2020-01-03``, ``03-04-2020``) is never a phone number.
Dates, lab values and ids such as ``SYN-000123`` or ``P001-L2`` do not match.

A problem never holds the value: its ``value`` is empty, and the flagged values are replaced by
``<redacted>`` wherever else they appear in the report (:func:`redact`), e.g. as the
``patient_id`` of other problems of that patient.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..fields import TABLES
from ..identifiers import HMAC_HEX
from ..report import ValidationReport
from .context import Context

REDACTED = "<redacted>"
ID_FIELDS = {name: [f.name for f in t.fields if f.type == "str" and f.name.endswith("_id")]
             for name, t in TABLES.items()}
LIST_FIELDS = {name: [f.name for f in t.fields if f.type == "list"] for name, t in TABLES.items()}
FREE_TEXT_FIELDS = {name: [f.name for f in t.fields if f.type == "str" and not f.name.endswith("_id")
                           and f.name != "pseudonym"] for name, t in TABLES.items()}

KINDS = {"bsn": "a Dutch citizen service number (BSN)", "nhs": "a UK NHS number",
         "email": "an e-mail address", "phone": "a phone number"}

# Cheap vectorised pre-filter: an '@', or a chain of 9+ digits (with separators). Only values
# that pass it go through the exact Python checks below.
_CANDIDATE = r"@|\d(?:[ ().\-]{0,2}\d){8}"
_ALONE_BEFORE = r"(?<![\w.,])"          # not inside a word, a longer number or a decimal
_ALONE_AFTER = r"(?!\w|[.,]\d)"
_BSN = re.compile(_ALONE_BEFORE + r"(\d{9}|\d{4}[. \-]\d{2}[. \-]\d{3}|\d{3}[. \-]\d{3}[. \-]\d{3})" + _ALONE_AFTER)
_NHS = re.compile(_ALONE_BEFORE + r"(\d{10}|\d{3}[ \-]\d{3}[ \-]\d{4})" + _ALONE_AFTER)
_EMAIL = re.compile(r"[\w.%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Digit groups, optionally in parentheses, separated by at most one space or hyphen.
_PHONE_CHAIN = re.compile(r"(?<![\w.,+])\+?(?:\(\d+\)|\d+)(?:[ \-]?(?:\(\d+\)|\d+))*" + _ALONE_AFTER)
_DATE_IN_CHAIN = re.compile(r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4})(?!\d)")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def is_bsn(digits: str) -> bool:
    """Dutch BSN 11-test on 9 digits (numbers starting with 00 are taken as counters, not BSNs)."""
    if len(digits) != 9 or digits.startswith("00"):
        return False
    d = [int(c) for c in digits]
    return (sum(w * x for w, x in zip(range(9, 1, -1), d[:8])) - d[8]) % 11 == 0


def is_nhs_number(digits: str) -> bool:
    """NHS (and CHI) mod-11 check digit on 10 digits."""
    if len(digits) != 10 or digits.startswith("00"):
        return False
    d = [int(c) for c in digits]
    check = 11 - sum(w * x for w, x in zip(range(10, 1, -1), d[:9])) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


def _is_phone(chain: str) -> bool:
    if _DATE_IN_CHAIN.search(chain):
        return False
    digits = _digits(chain)
    if chain.startswith("+"):
        return 10 <= len(digits) <= 15
    if digits.startswith("00"):
        return 11 <= len(digits) <= 15 and digits[2] != "0"
    return chain.lstrip("(").startswith("0") and 10 <= len(digits) <= 11


def identifier_kinds(text: str) -> list[str]:
    """Kinds of personal identifier found in ``text`` (keys of :data:`KINDS`), in a fixed order."""
    found = []
    if any(is_bsn(_digits(m.group(1))) for m in _BSN.finditer(text)):
        found.append("bsn")
    if any(is_nhs_number(_digits(m.group(1))) for m in _NHS.finditer(text)):
        found.append("nhs")
    if _EMAIL.search(text):
        found.append("email")
    if any(_is_phone(m.group(0)) for m in _PHONE_CHAIN.finditer(text)):
        found.append("phone")
    return found


def _flagged(values: pd.Series) -> dict[str, list[str]]:
    """{distinct value: kinds} for the values of ``values`` that hold an identifier."""
    text = values.dropna().astype(str)
    distinct = pd.Series(pd.unique(text), dtype=object)
    if not len(distinct):
        return {}
    candidates = distinct[distinct.str.contains(_CANDIDATE, regex=True)]
    out = {}
    for v in candidates:
        kinds = identifier_kinds(v)
        if kinds:
            out[v] = kinds
    return out


def _cells(ctx_tables: dict[str, pd.DataFrame]):
    """(table, field, values as text, is_list) for every id, list and free-text column."""
    for name, frame in ctx_tables.items():
        if name not in TABLES:
            continue
        for f in ID_FIELDS[name] + FREE_TEXT_FIELDS[name]:
            if f in frame:
                yield name, f, frame[f], False
        for f in LIST_FIELDS[name]:
            if f in frame:
                yield name, f, frame[f], True


def _list_items(values: pd.Series) -> pd.Series:
    return values.dropna().astype(str).str.split(r"[;,]").explode().str.strip()


def find_identifiers(tables: dict[str, pd.DataFrame]) -> dict[tuple[str, str], dict[str, list[str]]]:
    """{(table, field): {flagged value (or list item): kinds}} over every checked column."""
    found = {}
    for name, field, values, is_list in _cells(tables):
        hits = _flagged(_list_items(values) if is_list else values)
        if hits:
            found[(name, field)] = hits
    return found


def values_to_redact(tables: dict[str, pd.DataFrame]) -> set[str]:
    """Every value that must not appear in a report: flagged identifiers and non-hex pseudonyms."""
    out = {v for hits in find_identifiers(tables).values() for v in hits}
    p = tables.get("patients")
    if p is not None and "pseudonym" in p:
        ps = p["pseudonym"].dropna().astype(str)
        out.update(ps[~ps.str.fullmatch(HMAC_HEX)])
    return out


def _remember(ctx: Context, values) -> None:
    """Keep the flagged values on the context so ``validate`` can :func:`redact` the whole report."""
    ctx.__dict__.setdefault("redact_values", set()).update(values)


def check_identifier_values(ctx: Context) -> None:
    found = find_identifiers(ctx.tables)
    for hits in found.values():
        _remember(ctx, hits)
    for (name, field), hits in found.items():
        values = ctx.tables[name][field]
        if field in LIST_FIELDS[name]:
            items = _list_items(values)
            kinds_of_row = items.map(lambda v: hits.get(v)).dropna().groupby(level=0).agg(
                lambda ks: sorted({k for kk in ks for k in kk}, key=list(KINDS).index))
        else:
            kinds_of_row = values.map(lambda v: hits.get(str(v)) if pd.notna(v) else None).dropna()
        pos = kinds_of_row.index.to_numpy(dtype=int)
        mask = np.zeros(len(values), dtype=bool)
        mask[pos] = True
        fix = ("replace it with a study id (the same in every table)" if field not in FREE_TEXT_FIELDS[name]
               else "remove it from the text")
        message = pd.Series("", index=range(len(values)), dtype=object)
        message[pos] = [f"{field} holds what looks like {' and '.join(KINDS[k] for k in ks)}; personal "
                        f"identifiers are never stored, so the value is not shown here: {fix}"
                        for ks in kinds_of_row]
        ctx.error(name, "identifier_value", mask, field, message, value=pd.Series([None] * len(values)))


def check_pseudonyms(ctx: Context) -> None:
    ps = ctx.tables["patients"]["pseudonym"]
    text = ps.astype(object).where(ps.notna(), None)
    bad = (text.notna() & ~text.astype(str).str.fullmatch(HMAC_HEX).fillna(False).astype(bool)).to_numpy()
    _remember(ctx, (str(v) for v in text[bad]))
    ctx.error("patients", "pseudonym_not_hmac", bad, "pseudonym",
              "pseudonym is not a keyed hash (64 hex digits, as written by the importer with an identifier key); "
              "it may hold identifying text, so it is not shown and never stored: leave the column empty and "
              "import with the identifier columns and a key", value=pd.Series([None] * len(ps)))


def redact(report: ValidationReport, values: set[str]) -> ValidationReport:
    """``report`` with every occurrence of ``values`` in value, patient_id and message replaced."""
    if not values or not len(report.problems):
        return report
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    problems = report.problems.copy()
    for col in ("value", "patient_id", "message"):
        s = problems[col]
        has = s.notna()
        if has.any():
            problems.loc[has, col] = s[has].astype(str).str.replace(pattern, REDACTED, regex=True)
    return ValidationReport(problems)
