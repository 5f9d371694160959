"""Readers of the interchange formats: a folder of CSVs, an Excel workbook, a REDCap flat export.

Each reader returns ``{table: (raw frame, file rows)}`` with raw cells (mostly strings) and the
1-based data row of every frame row in its file, plus file-level problems in the log. Parsing
into the contract is shared (``registry/parse.py``), so every format gets the same rules.
"""
