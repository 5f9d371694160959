"""What id and free-text cells may hold: no personal identifier, no over-long id (issue 16, D8, D24).

**Id length** (``id_too_long``): ids are keys in the store. Its id columns are TEXT, but
PostgreSQL refuses a btree index entry above 2704 bytes (a third of a page), so a 4,000-character
id would pass validation and then fail the write with a driver error. :data:`MAX_ID_LENGTH`
(100 characters, at most 400 bytes in UTF-8) is far below that and above any real id (REDCap
record names stop at 100 too).

**Personal identifiers in cell values** (``identifier_value``), and pseudonyms that are not keyed
hashes (``pseudonym_not_hmac``): never stored.

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
MAX_ID_LENGTH = 100
ID_FIELDS = {name: [f.name for f in t.fields if f.type == "str" and f.name.endswith("_id")]
             for name, t in TABLES.items()}
LIST_FIELDS = {name: [f.name for f in t.fields if f.type == "list"] for name, t in TABLES.items()}
FREE_TEXT_FIELDS = {name: [f.name for f in t.fields if f.type == "str" and not f.name.endswith("_id")
                           and f.name != "pseudonym"] for name, t in TABLES.items()}

KINDS = {"bsn": "a Dutch citizen service number (BSN)", "nhs": "a UK NHS number",
         "email": "an e-mail address", "phone": "a phone number"}

_VECTORISED_LENGTH = 256   # longer texts go through the pre-filter (see _candidates) one by one
#: ``bytes.translate`` tables over characters as ``_candidates`` codes them (128: any but ASCII): 1 for a
#: digit; 1 for a character that ends a number, anything but a digit or a number separator. NUL counts as a
#: separator, as the padding of the fixed-width arrays that the pre-filter used before did.
_DIGIT = bytes(int(48 <= c <= 57) for c in range(256))
_ENDS_NUMBER = bytes(int(chr(c) not in "0123456789 .-()/+\x00") for c in range(256))
_LONG_CANDIDATE = re.compile(r"[0-9](?:[ .\-()/+]*[0-9]){8}")
_ALONE_BEFORE = r"(?<![\w.,])"          # not inside a word, a longer number or a decimal
_ALONE_AFTER = r"(?!\w|[.,]\d)"
# re.ASCII: the numbers are in ASCII digits, as the pre-filter (_candidates) assumes.
_BSN = re.compile(_ALONE_BEFORE + r"(\d{9}|\d{4}[. \-]\d{2}[. \-]\d{3}|\d{3}[. \-]\d{3}[. \-]\d{3})" + _ALONE_AFTER,
                  re.ASCII)
_NHS = re.compile(_ALONE_BEFORE + r"(\d{10}|\d{3}[ \-]\d{3}[ \-]\d{4})" + _ALONE_AFTER, re.ASCII)
_EMAIL = re.compile(r"[\w.%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Digit groups, optionally in parentheses, separated by at most one space or hyphen.
_PHONE_CHAIN = re.compile(r"(?<![\w.,+])\+?(?:\(\d+\)|\d+)(?:[ \-]?(?:\(\d+\)|\d+))*" + _ALONE_AFTER, re.ASCII)
_DATE_IN_CHAIN = re.compile(r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4})(?!\d)", re.ASCII)


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


def _matches(text: str) -> dict[str, list[str]]:
    """{kind: matched substrings} of the personal identifiers in ``text``."""
    found = {"bsn": [m.group(1) for m in _BSN.finditer(text) if is_bsn(_digits(m.group(1)))],
             "nhs": [m.group(1) for m in _NHS.finditer(text) if is_nhs_number(_digits(m.group(1)))],
             "email": [m.group(0) for m in _EMAIL.finditer(text)],
             "phone": [m.group(0) for m in _PHONE_CHAIN.finditer(text) if _is_phone(m.group(0))]}
    return {k: v for k, v in found.items() if v}


def identifier_kinds(text: str) -> list[str]:
    """Kinds of personal identifier found in ``text`` (keys of :data:`KINDS`), in a fixed order."""
    return list(_matches(text))


def _candidates(distinct: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """True for texts with an ``@``, or 9+ ASCII digits not split by a letter, ``;`` or ``,``.

    A superset of what the exact checks find (a BSN has 9 digits, the rest more), so only those
    texts go through them. Vectorised over the characters: the texts joined into one, each ended by
    ``\x01`` (which ends a number as a letter does), one byte per character (any but ASCII as 128);
    the digits between two characters that end a number are counted from a running count of digits
    at those characters. A Python regex per value costs seconds on the ~1M distinct ids of a large
    registry. ``SYN-000123-L4`` or ``P1-L1;P1-L2`` count 6 and 1 digits, and are done with here.
    About a million characters at a time, so that the arrays stay small enough to be reused.
    """
    out = np.zeros(len(distinct), dtype=bool)
    if lengths is None:
        lengths = np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))
    pick = np.flatnonzero((lengths > 0) & (lengths <= _VECTORISED_LENGTH))
    if len(pick):
        reach = np.cumsum(lengths[pick] + 1)   # characters up to the end of each text, joined
        cuts = np.unique(np.searchsorted(reach, np.arange(_CHARACTERS_AT_A_TIME, reach[-1], _CHARACTERS_AT_A_TIME)))
        for part in np.split(pick, cuts):
            if len(part):
                out[part] = _candidate_texts(distinct[part], lengths[part])
    for i in np.flatnonzero(lengths > _VECTORISED_LENGTH):   # rare very long free text: plain Python
        out[i] = "@" in distinct[i] or _LONG_CANDIDATE.search(distinct[i]) is not None
    return out


_CHARACTERS_AT_A_TIME = 1 << 20


def _candidate_texts(texts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``_candidates`` of non-empty ``texts`` of at most ``_VECTORISED_LENGTH`` characters."""
    text = "\x01".join(texts)
    data = text.encode("ascii") if text.isascii() else np.minimum(np.frombuffer(
        text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32), 128).astype(np.uint8).tobytes()
    starts = np.r_[0, np.cumsum(lengths + 1)[:-1]]   # where each text starts in ``data``
    digits = np.cumsum(np.frombuffer(data.translate(_DIGIT), dtype=np.bool_), dtype=np.int32)
    ends = np.r_[np.flatnonzero(np.frombuffer(data.translate(_ENDS_NUMBER), dtype=np.bool_)), len(data)]
    # the digits before each end (an end is no digit; len(data) ends the last stretch), so the digits of
    # the stretch each end closes; the text of a stretch is that of its last character
    stretch = np.diff(np.append(digits, digits[-1])[ends], prepend=0)
    out = np.zeros(len(texts), dtype=bool)
    out[np.searchsorted(starts, ends[stretch >= 9] - 1, side="right") - 1] = True
    if "@" in text:
        out[np.searchsorted(starts, np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("@")),
                            side="right") - 1] = True
    return out


def _columns(tables: dict[str, pd.DataFrame], kinds=("id", "list", "text")):
    """(table, field) of every id, list and/or free-text column present."""
    for name, frame in tables.items():
        if name in TABLES:
            fields = ((ID_FIELDS[name] if "id" in kinds else []) + (LIST_FIELDS[name] if "list" in kinds else [])
                      + (FREE_TEXT_FIELDS[name] if "text" in kinds else []))
            for f in fields:
                if f in frame:
                    yield name, f


def _distinct(tables: dict[str, pd.DataFrame], kinds) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-missing texts of those columns, pooled (a patient id repeats in every table), and
    their lengths."""
    parts = [tables[name][f].to_numpy(dtype=object) for name, f in _columns(tables, kinds)]
    if not parts:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    distinct = pd.unique(np.concatenate(parts))
    distinct = distinct[pd.notna(distinct)]
    if pd.api.types.infer_dtype(distinct, skipna=False) not in ("string", "empty"):
        distinct = np.array([str(v) for v in distinct], dtype=object)
    return distinct, np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))


def _pools(ctx_or_tables) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The distinct texts of the id (+ list) columns and of the free-text columns; cached on a Context."""
    if isinstance(ctx_or_tables, Context):
        if "_id_pools" not in ctx_or_tables.__dict__:
            ctx_or_tables.__dict__["_id_pools"] = {"ids": _distinct_ids(ctx_or_tables),
                                                   "text": _distinct(ctx_or_tables.tables, ("text",))}
        return ctx_or_tables.__dict__["_id_pools"]
    return {"ids": _distinct(ctx_or_tables, ("id", "list")), "text": _distinct(ctx_or_tables, ("text",))}


def _distinct_ids(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """``_distinct`` of the id and list columns, from the ids the Context has numbered already (its
    ``Space``s): the distinct ids of each kind, and of the list cells. A text that is ids of two kinds
    (a lesion id given as a patient id) comes twice: the checks look at each text, and keep sets."""
    columns = list(_columns(ctx.tables, ("id", "list")))
    spaces = {"patient_id": ctx.patient_space, "lesion_id": ctx.lesion_space, "treatment_id": ctx.treatment_space}
    by_space: dict[str, list[str]] = {}
    parts = []
    for name, field in columns:
        if field in spaces and ctx.id_codes(name, field) is not None:
            by_space.setdefault(field, []).append(name)
        else:   # lesion_ids
            cells = pd.unique(ctx.tables[name][field].to_numpy(dtype=object))
            parts.append(cells[pd.notna(cells)])
    parts += [spaces[field].distinct(names) for field, names in by_space.items()]   # never missing
    if not parts:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    distinct = np.concatenate(parts)
    if pd.api.types.infer_dtype(distinct, skipna=False) not in ("string", "empty"):
        distinct = np.array([str(v) for v in distinct], dtype=object)
    return distinct, np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))


def find_identifiers(tables) -> dict[str, dict[str, list[str]]]:
    """{distinct cell text: {kind: matched substrings}} over every checked column.

    ``tables``: the registry, or a Context (whose pooled texts are then reused). A list cell
    (``lesion_ids``) is checked as a whole: ``;`` ends a number as any non-digit does. Only texts
    with an ``@`` or 9+ digits go through the exact checks.
    """
    out = {}
    for distinct, lengths in _pools(tables).values():
        for v in distinct[_candidates(distinct, lengths)]:
            hits = _matches(v)
            if hits:
                out[v] = hits
    return out


def check_id_length(ctx: Context) -> None:
    """Every id, in every table (and each id listed in ``lesion_ids``), at most MAX_ID_LENGTH characters."""
    distinct, lengths = _pools(ctx)["ids"]
    long_cells = set(distinct[lengths > MAX_ID_LENGTH])
    if not long_cells:
        return
    # The longest id in the cell: a list cell may be long with short ids.
    longest = {v: max(len(x.strip()) for x in re.split(r"[;,]", v)) for v in long_cells}
    too_long = [v for v, n in longest.items() if n > MAX_ID_LENGTH]
    for name, field in _columns(ctx.tables, ("id", "list")):
        col = ctx.tables[name][field]
        mask = col.isin(too_long).to_numpy()
        if not mask.any():
            continue
        # The full value would flood the report; its start and length locate it.
        shown = pd.Series(None, index=col.index, dtype=object)
        shown[mask] = [f"{v[:20]}... ({len(v)} characters)" for v in col[mask]]
        ctx.error(name, "id_too_long", mask, field,
                  [f"an id may have at most {MAX_ID_LENGTH} characters; this one has {longest[v]}: shorten it "
                   "(the same in every table)" for v in col[mask]], value=shown)


def _pseudonym_not_hmac(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """True for each patients row whose pseudonym is given and is not 64 hex digits."""
    ps = tables["patients"]["pseudonym"]
    out = np.zeros(len(ps), dtype=bool)
    given = ps.notna().to_numpy()
    if given.any():
        out[given] = ~ps[given].astype(str).str.fullmatch(HMAC_HEX).to_numpy(dtype=bool)
    return pd.Series(out, index=ps.index)


def values_to_redact(tables: dict[str, pd.DataFrame], found: dict | None = None) -> set[str]:
    """What must not appear in a report: the matched identifiers, and non-hex pseudonyms whole."""
    found = find_identifiers(tables) if found is None else found
    out = {m for hits in found.values() for ms in hits.values() for m in ms}
    ps = tables["patients"]["pseudonym"]
    out.update(ps[_pseudonym_not_hmac(tables)].astype(str))
    return out


def check_identifier_values(ctx: Context) -> None:
    found = find_identifiers(ctx)
    ctx.__dict__["redact_values"] = values_to_redact(ctx.tables, found)
    if not found:
        return
    for name, field in _columns(ctx.tables):
        values = ctx.tables[name][field]
        mask = values.isin(list(found)).to_numpy()
        if not mask.any():
            continue
        fix = ("remove it from the text" if field in FREE_TEXT_FIELDS[name]
               else "replace it with a study id (the same in every table)")
        ctx.error(name, "identifier_value", mask, field,
                  lambda m, values=values, fix=fix, field=field: [
                      f"{field} holds what looks like {' and '.join(KINDS[k] for k in found[str(v)])}; personal "
                      f"identifiers are never stored, so the value is not shown here: {fix}" for v in values[m]],
                  value=pd.Series([None] * len(values)))


def check_pseudonyms(ctx: Context) -> None:
    bad = _pseudonym_not_hmac(ctx.tables).to_numpy()
    ctx.error("patients", "pseudonym_not_hmac", bad, "pseudonym",
              "pseudonym is not a keyed hash (64 hex digits, as written by the importer with an identifier key); "
              "it may hold identifying text, so it is not shown and never stored: leave the column empty and "
              "import with the identifier columns and a key", value=pd.Series([None] * len(bad)))


def redact(report: ValidationReport, values) -> ValidationReport:
    """``report`` with every occurrence of ``values`` in value, patient_id and message replaced.

    The result remembers ``values`` (:func:`redacted`), so that a report merged with it later
    (``validate.combine``, e.g. with a reader's problems in ``Store.import_registry``) is masked too.
    """
    values = frozenset(values)
    if not values:
        return report
    if len(report.problems):
        pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
        problems = report.problems.copy()
        for col in ("value", "patient_id", "message"):
            s = problems[col]
            has = s.notna()
            if has.any():
                problems.loc[has, col] = s[has].astype(str).str.replace(pattern, REDACTED, regex=True)
        report = ValidationReport(problems)
    report.redacted_values = values
    return report


def redacted(report: ValidationReport) -> frozenset:
    """The values :func:`redact` masked in ``report`` (empty for a report it never saw)."""
    return getattr(report, "redacted_values", frozenset())
