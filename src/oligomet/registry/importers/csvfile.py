"""One CSV file -> text -> records, each with the physical line it starts on; nothing lost silently.

``pandas.read_csv`` alone loses data without a word: it pads a record with too few fields with
missing values, reads every line between a stray opening quote and the next quote as one cell, and
cannot say on which line a record starts once a cell spans lines. So records are split here with
the ``csv`` module, which reports the line of every record; pandas' faster C parser is used only for
the common file that has no quote at all and the same number of fields on every line, where records
and lines are the same thing.

Guarantees (docs/registry.md, "Reading sources"):

* a record with more or fewer fields than the header is a ``wrong_field_count`` error (its line);
* a quoted cell that runs over lines which look like records (as many fields as the header) is an
  ``unbalanced_quote`` error; any other quoted cell with a line break is a ``multiline_cell``
  warning naming its lines and column;
* a file that is not UTF-8 anywhere is read as Windows-1252 with a ``file_encoding`` warning naming
  the lines with accents; a UTF-8 file with some lines of other bytes is a ``mixed_encoding`` error
  per such line (re-decoding the whole file would turn every correct accent into mojibake).

Row numbers: a record's ``row`` is its first physical line minus one, so ``line = row + 1`` also
after blank lines and multi-line cells (with the header on line 1, ``row`` is the data row).
"""
from __future__ import annotations

import codecs
import csv
import io
import re

import numpy as np
import pandas as pd

from ..report import ProblemLog
from .names import normalise_name

_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SHOW_LINES = 10  # line numbers listed in one file-level message


def _line_list(numbers) -> str:
    numbers = list(numbers)
    shown = ", ".join(str(n) for n in numbers[:_SHOW_LINES])
    return shown + (f" and {len(numbers) - _SHOW_LINES} more" if len(numbers) > _SHOW_LINES else "")


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes, fname: str, table: str, log: ProblemLog) -> str:
    """Bytes -> text: UTF-8 (BOM or not); a wholly non-UTF-8 file as Windows-1252; never mojibake."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = _LINE_BREAK_BYTES.split(data)
    bad = [i for i, ln in enumerate(lines, 1) if not _is_utf8(ln)]
    utf8_accents = any(not ln.isascii() and _is_utf8(ln) for ln in lines)
    if not utf8_accents:
        # Excel's "CSV" on Windows writes cp1252 (a superset of Latin-1's letters); bytes cp1252 leaves
        # undefined (0x81, 0x8D, ...) only exist in Latin-1, which never fails.
        try:
            text, enc = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            text, enc = data.decode("latin-1"), "Latin-1"
        log.warning(table, "file_encoding", f"{fname} is not UTF-8; read as {enc}. Check the accented characters "
                                            f"on line(s) {_line_list(bad)}, or save the file as 'CSV UTF-8'")
        return text
    # Some lines are UTF-8 with accents, others are not: the file mixes encodings (a row pasted from
    # another program, a truncated character). Name each such line; its bad bytes become U+FFFD so that
    # the rest of the file can still be checked, and the error keeps it out of any store.
    for i in bad:
        ln = lines[i - 1]
        pos = _first_bad_byte(ln)
        snippet = ln[max(0, pos - 12):pos + 12].decode("utf-8", errors="backslashreplace")
        log.error(table, "mixed_encoding",
                  f"{fname} line {i} has bytes that are not UTF-8 (byte {pos + 1} of the line) while other lines "
                  "are UTF-8 with accents: the file mixes encodings, and reading it either way would garble "
                  "one of them. Retype the characters around the shown bytes in a UTF-8 editor, or re-save the "
                  "whole file as 'CSV UTF-8' from the program that made it", rows=[i - 1], value=[snippet])
    return data.decode("utf-8", errors="replace")


def _first_bad_byte(line: bytes) -> int:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def separator(header_line: str) -> str:
    # European spreadsheet exports separate with ';' (',' is their decimal mark).
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_records(text: str, fname: str, table: str, log: ProblemLog) -> tuple[list[str], pd.DataFrame] | None:
    """Text -> (raw header, frame of str cells with integer column labels, index ``row`` = line - 1).

    Every record has the header's width (short ones padded with "", long ones cut) after its
    ``wrong_field_count`` error; blank and whitespace-only lines are skipped. None when the file
    cannot be split at all (reported as ``file_unreadable``).
    """
    split = split_records(text, fname, table, log)
    return None if split is None else split[:2]


def split_records(text: str, fname: str, table: str, log: ProblemLog, categorical: bool = False,
                  ) -> tuple[list[str], pd.DataFrame, bool] | None:
    """:func:`read_records`, and whether every cell is known to be stripped already (see :data:`STRIPPED`).

    ``categorical``: the columns of a file without quotes may come as pandas categoricals (each distinct
    text once, and a code per cell; see :func:`_dictionary_frame`); their cells are the same texts.
    """
    if not text.strip():
        return [], pd.DataFrame(index=pd.Index([], name="row")), False
    sep = separator(re.match(r"[^\r\n]*", text.lstrip()).group())  # the first non-blank line
    if '"' not in text:
        fast = _split_unquoted(text, sep, categorical)
        if fast is not None:
            return fast
    split = _read_quoted(text, sep, fname, table, log)
    return None if split is None else (*split, False)


def _read_unquoted(text: str, sep: str) -> tuple[list[str], pd.DataFrame] | None:
    fast = _split_unquoted(text, sep)
    return None if fast is None else fast[:2]


def _split_unquoted(text: str, sep: str, categorical: bool = False) -> tuple[list[str], pd.DataFrame, bool] | None:
    """No quote anywhere: one line is one record. Pandas' C parser when every line has the header's
    width (or Arrow's, see :func:`_dictionary_frame`, with ``categorical``); None (use the careful reader,
    which reports) otherwise."""
    if "\r" in text:
        text = _LINE_BREAK.sub("\n", text)  # the same lines, one kind of line break
    data = text.encode("utf-8")
    if categorical:
        fast = _split_by_arrow(data, sep)
        if fast is not None:
            return fast
    # Lines and separators are found in the UTF-8 bytes with NumPy: "\n" and the separator are ASCII,
    # never part of another character's bytes. Splitting a million lines in Python cost ~1 s.
    b = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(b == ord("\n"))
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(data)]  # line k is data[starts[k]:ends[k]]
    if data.endswith(b"\n"):
        starts, ends = starts[:-1], ends[:-1]  # the file's final line break ends a line, starts none
    h = next(k for k in range(len(starts)) if data[starts[k]:ends[k]].decode("utf-8").strip())
    header = data[starts[h]:ends[h]].decode("utf-8").split(sep)
    n = len(header)
    seps = np.flatnonzero(b == ord(sep))
    counts = np.searchsorted(seps, ends[h + 1:]) - np.searchsorted(seps, starts[h + 1:])
    # a blank or whitespace-only line is not a record (left for drop_blank_rows)
    if any(data[starts[k]:ends[k]].decode("utf-8").strip() for k in h + 1 + np.flatnonzero(counts != n - 1)):
        return None
    rows = np.arange(h + 1, len(starts))  # 0-based line index = line - 1 = row
    if not len(rows):
        return header, pd.DataFrame(columns=range(n), index=pd.Index(rows, name="row"), dtype=object), False
    body = data[starts[h + 1]:]
    # dtype=object: Python str cells straight from the parser, as the quoted reader gives them.
    # (dtype=str would build pandas 3's Arrow strings, which conform_table turns back into Python
    # objects: two conversions of every cell for nothing.)
    frame = pd.read_csv(io.BytesIO(body if body.endswith(b"\n") else body + b"\n"), sep=sep, header=None,
                        names=list(range(n)), dtype=object, keep_default_na=False, na_filter=False,
                        skip_blank_lines=False, index_col=False, quoting=csv.QUOTE_NONE, engine="c",
                        encoding="utf-8")
    if len(frame) != len(rows):  # cannot happen without quotes; never guess the rows if it does
        return None
    frame.index = pd.Index(rows, name="row")
    return header, frame, _cells_stripped(b[starts[h + 1]:], sep)


def _split_by_arrow(data: bytes, sep: str) -> tuple[list[str], pd.DataFrame, bool] | None:
    """:func:`_split_unquoted` of the UTF-8 ``data`` (no quote, "\\n" line breaks) when Arrow's reader splits
    every line after the header into a record of the header's width (it refuses a line of another width,
    a blank one too): the records are then the lines, numbered from the header's. None otherwise."""
    h, start = 0, 0   # the header: the first line that is not blank
    while True:
        end = data.find(b"\n", start)
        line = data[start:end if end >= 0 else len(data)].decode("utf-8")
        if line.strip() or end < 0:
            break
        h, start = h + 1, end + 1
    if not line.strip() or end < 0:
        return None
    header = line.split(sep)
    body = data[end + 1:]
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if not body or lines == 0:
        return None
    frame = _dictionary_frame(body, sep, header, lines)
    if frame is None:
        return None
    frame.index = pd.Index(np.arange(h + 1, h + 1 + lines), name="row")
    return header, frame, _cells_stripped(np.frombuffer(body, dtype=np.uint8), sep)


def _dictionary_frame(body: bytes, sep: str, header: list[str], records: int) -> pd.DataFrame | None:
    """The records ``body`` (no quote, no blank line, each with the header's width) split by Arrow's CSV
    reader, each column dictionary-encoded as it is read: a pandas categorical of object dtype texts, each
    distinct text made a Python string once (numbered by first appearance, as ``pd.factorize`` numbers
    them). Pandas' reader makes a Python string of every cell, and parsing then hashes every one to find
    the distinct values: twice the time. A column without a header name stays object (``tabular`` checks
    its cells one by one). None when Arrow does not give ``records`` rows (then pandas' reader decides).

    Arrow's buffers come from the C library's allocator (``system_memory_pool``): its default pool gave
    a large file's pages back to the system after each table, and the next table faulted them in again
    (~0.3 s of system time for 62 MB of CSV).
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    names = [str(j) for j in range(len(header))]
    try:
        table = arrow_csv.read_csv(
            pa.py_buffer(body),
            read_options=arrow_csv.ReadOptions(column_names=names, use_threads=False,
                                               block_size=min(max(len(body) + 1, 1 << 20), 1 << 30)),
            parse_options=arrow_csv.ParseOptions(delimiter=sep, quote_char=False, escape_char=False,
                                                 newlines_in_values=False, ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.dictionary(pa.int32(), pa.string())),
                strings_can_be_null=False, quoted_strings_can_be_null=False),
            memory_pool=pa.system_memory_pool())
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != records or any(column.num_chunks != 1 for column in table.columns):
        return None
    columns = {}
    for j, column in enumerate(table.columns):
        encoded = column.chunk(0)
        texts = encoded.dictionary.to_numpy(zero_copy_only=False)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        name = normalise_name(header[j])
        if name == "" or name.startswith("unnamed:"):
            columns[j] = pd.Series(texts[codes], dtype=object)
        else:
            columns[j] = pd.Series(pd.Categorical.from_codes(
                codes, dtype=pd.CategoricalDtype(pd.Index(texts, dtype=object), ordered=False)))
    return pd.DataFrame(columns)


#: ``frame.attrs`` key of a table's raw cells (``tabular.read_csv_table``), True when no cell of the file
#: starts or ends with whitespace or NUL (:func:`_cells_stripped`): every cell is then its own stripped
#: text, and ``parse`` does not strip them one by one. A whitespace-only line makes it False too.
STRIPPED = "stripped"

#: More edge bytes than this (cells starting or ending with a space, an accent...) and the cells are
#: stripped one by one, as they would be without the check.
_MAX_EDGE_CHECKS = 1000


def _cells_stripped(body: np.ndarray, sep: str) -> bool:
    """True when no cell of the records ``body`` (UTF-8 bytes, after the header's line break) starts or
    ends with a character that stripping takes off (``parse._WHITESPACE_AND_NUL``).

    Only a byte that is not printable ASCII can be (or begin or end) such a character; one pass of NumPy
    finds them (usually none: spaces sit inside texts), and only those next to a separator or a line
    break, which end cells, are decoded to see which character they belong to.
    """
    if not len(body):
        return True
    odd = np.flatnonzero((body - np.uint8(33)) > np.uint8(94))   # outside "!".."~": wraps below 33
    odd = odd[body[odd] != ord("\n")]
    if not len(odd):
        return True
    ends_cell = np.array([ord(sep), ord("\n")], dtype=np.uint8)
    before = body[np.maximum(odd - 1, 0)]
    after = body[np.minimum(odd + 1, len(body) - 1)]
    first = odd[(odd == 0) | np.isin(before, ends_cell)]                # a cell's first byte
    last = odd[(odd == len(body) - 1) | np.isin(after, ends_cell)]      # a cell's last byte
    if len(first) + len(last) > _MAX_EDGE_CHECKS:
        return False
    for k in first:   # the character starting there (a cell starts on a character's first byte)
        ch = body[k:k + 4].tobytes().decode("utf-8", errors="ignore")[:1]
        if ch.isspace() or ch == "\x00":
            return False
    for k in last:    # the character ending there (a cell ends on a character's last byte)
        ch = body[max(k - 3, 0):k + 1].tobytes().decode("utf-8", errors="ignore")[-1:]
        if ch.isspace() or ch == "\x00":
            return False
    return True


def _physical_lines(text: str) -> int:
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def _read_quoted(text: str, sep: str, fname: str, table: str, log: ProblemLog,
                 ) -> tuple[list[str], pd.DataFrame] | None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    ends: list[int] = []
    try:
        # csv gives one record per line (an empty list for an empty line) unless a quoted cell spans
        # lines; only then is each record's last line needed, which costs a Python step per record.
        records = list(reader)
        if len(records) != _physical_lines(text):
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            records = []
            for rec in reader:
                records.append(rec)
                ends.append(reader.line_num)
    except csv.Error as exc:  # e.g. a cell over csv.field_size_limit(): an opening quote never closed
        log.error(table, "file_unreadable", f"{fname} cannot be split into records from line {reader.line_num} on "
                                            f"({exc}): probably a quote opened there is never closed. Double the "
                                            "quotes inside text cells (\"\") or remove the stray one")
        return None
    ends = ends or list(range(1, len(records) + 1))
    starts = [1] + [e + 1 for e in ends[:-1]]
    # blank and whitespace-only lines hold nothing
    filled = [i for i, rec in enumerate(records) if "".join(rec).strip()]
    if not filled:
        return [], pd.DataFrame(index=pd.Index([], name="row"))
    spans = [(starts[i], ends[i]) for i in filled]
    records = [records[i] for i in filled]
    header, (h_start, h_end) = records[0], spans[0]
    if h_end > h_start:
        log.error(table, "unbalanced_quote", f"{fname}: the header runs from line {h_start} to line {h_end}; "
                                             "a quote in it is not closed on its line. Fix the header")
        return None
    n = len(header)
    named = n
    while named > 1 and not header[named - 1].strip():
        named -= 1  # a trailing separator on the header names no column: records may stop before it
    body, spans = records[1:], spans[1:]
    start = np.fromiter((a for a, _ in spans), dtype=np.int64, count=len(spans))
    end = np.fromiter((b for _, b in spans), dtype=np.int64, count=len(spans))
    width = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    keep = np.ones(len(body), dtype=bool)
    if (end > start).any():
        physical = _LINE_BREAK.split(text)
        for i in np.flatnonzero(end > start):
            # several records in one: no cell of it can be trusted, and it is an error
            keep[i] = not _report_multiline(body[i], header, start[i], end[i], physical, sep, named, fname, table,
                                            log)
    for i in np.flatnonzero(keep & ((width < named) | (width > n))):
        _report_field_count(body[i], header, named, start[i], end[i], fname, table, log)
    for i in np.flatnonzero(keep & (width != n)):
        body[i] = body[i][:n] + [""] * (n - width[i])
    rows = pd.Index(start[keep] - 1, name="row")
    body = body if keep.all() else [body[i] for i in np.flatnonzero(keep)]
    frame = pd.DataFrame(body, columns=range(n), index=rows, dtype=object) if body else \
        pd.DataFrame(columns=range(n), index=rows, dtype=object)
    return header, frame


def _where(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}-{end}"


def _patient(rec: list[str], header: list[str]) -> str | None:
    names = [normalise_name(h) for h in header]
    if "patient_id" in names and names.index("patient_id") < len(rec):
        return rec[names.index("patient_id")].strip() or None
    return None


def _report_field_count(rec, header, named, start, end, fname, table, log) -> None:
    if len(rec) < named:
        absent = [normalise_name(h) for h in header[len(rec):named]]
        what = (f"{len(rec)} field(s) where the header has {named}: a truncated or split line, so "
                f"{', '.join(absent)} would be read as empty")
    else:
        extra = [c for c in rec[len(header):]]
        what = (f"{len(rec)} fields where the header has {len(header)}: the values after the last column "
                f"({', '.join(repr(c) for c in extra[:3])}{', ...' if len(extra) > 3 else ''}) have no column, "
                "and the values before them may be shifted (an unquoted separator inside a text cell?)")
    log.error(table, "wrong_field_count", f"{fname} {_where(start, end)} has {what}. Fix the line (quote text "
                                          "cells that contain the separator); an import is refused "
                                          "until then", rows=[start - 1], patient_id=[_patient(rec, header)])


def _report_multiline(rec, header, start, end, physical, sep, named, fname, table, log) -> bool:
    """Report a record spanning lines; True when its line breaks swallowed lines that look like records."""
    cols = [normalise_name(header[j]) if j < len(header) else f"field {j + 1}" for j, c in enumerate(rec)
            if "\n" in c or "\r" in c]
    record_like = [ln for ln in range(start + 1, end + 1)
                   if len(next(csv.reader([physical[ln - 1]], delimiter=sep), [])) >= max(named, 2)]
    patient = [_patient(rec, header)]
    if record_like:
        log.error(table, "unbalanced_quote",
                  f"{fname}: a quote opened on line {start} (column {', '.join(cols) or '?'}) closes only on line "
                  f"{end}, so lines {start}-{end} were read as one record; line(s) {_line_list(record_like)} look "
                  f"like records of their own ({max(named, 2)} or more fields), which would be lost. A quote inside "
                  "a text cell must be doubled (\"\") or the cell quoted as a whole; fix or remove the stray quote",
                  rows=[start - 1], patient_id=patient, field=cols[0] if cols else None)
        return True
    log.warning(table, "multiline_cell",
                f"{fname} {_where(start, end)}: the quoted cell of column {', '.join(cols)} contains a line break "
                "and was read as one cell. Check that it is one text and not two records joined by a stray quote",
                rows=[start - 1], patient_id=patient, field=cols[0] if cols else None)
    return False
