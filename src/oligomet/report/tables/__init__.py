"""Table writers: one report table = a tidy frame (numbers, for CSV/XLSX and results.json) plus a
display frame (formatted strings, for HTML and Word). Writers compute no statistics.
"""
from .model import ReportTable
from .delimited import write_csv
from .excel import write_xlsx
from .htmltable import html_table
from .word import write_docx

__all__ = ["ReportTable", "write_csv", "write_xlsx", "write_docx", "html_table"]
