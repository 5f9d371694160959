"""The per-site data-quality page: a heat map drawn from the tidy frame of ``quality.quality_summary``.

It reads :class:`~oligomet.registry.quality.QualitySummary` only (sites as columns, measures as rows),
computes nothing of its own but colours, and writes one self-contained HTML file (inline CSS, no
script, no external resource), so that it opens from a hospital's file share.
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from .. import __version__
from .._spreadsheet import csv_safe_frame
from .quality import ALL_RULES, QualitySummary
from .rules import RULES

#: Violations per 100 patients at which a cell is fully red.
VIOLATIONS_FULL_RED = 20.0

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px 32px; color: #1d2125; }
h1 { font-size: 22px; margin: 0 0 4px; }
p.meta { margin: 0 0 14px; color: #4a5560; font-size: 14px; }
table.heat { border-collapse: separate; border-spacing: 2px; font-size: 13px; }
table.heat th, table.heat td { padding: 4px 8px; }
table.heat thead th { position: sticky; top: 0; background: #fff; text-align: center; vertical-align: bottom;
  font-weight: 600; min-width: 92px; max-width: 150px; }
table.heat thead th small { display: block; font-weight: 400; color: #5c6770; }
table.heat tbody th { text-align: left; font-weight: 400; white-space: nowrap; padding-right: 14px; }
table.heat tbody th .table { color: #6b7680; }
table.heat tbody th .sev { font-size: 11px; color: #fff; border-radius: 3px; padding: 0 4px; margin-left: 6px; }
table.heat tbody th .sev.error { background: #b3261e; }
table.heat tbody th .sev.warning { background: #8a6d00; }
table.heat tr.section th { text-align: left; font-size: 14px; font-weight: 600; padding-top: 16px;
  border-bottom: 1px solid #c9d1d9; }
table.heat tr.section th span { font-weight: 400; color: #5c6770; font-size: 12px; }
table.heat td { text-align: right; font-variant-numeric: tabular-nums; border-radius: 3px; min-width: 72px; }
table.heat td.na { background: #eef0f2; color: #8a949d; text-align: center; }
table.heat tr.total th { font-weight: 600; }
.legend { display: flex; gap: 28px; margin: 18px 0 6px; font-size: 12px; color: #4a5560; align-items: center;
  flex-wrap: wrap; }
.legend .bar { display: inline-block; width: 160px; height: 12px; vertical-align: middle; margin: 0 6px;
  border-radius: 2px; }
.notes { font-size: 12px; color: #4a5560; max-width: 980px; line-height: 1.45; }
"""


#: A share at or below this is fully red; the scale runs through yellow (halfway) to green at 1. Data
#: quality lives in the upper half: 75% complete is mediocre and should look it, not pale green.
SHARE_RED = 0.5


def share_colour(v: float) -> str:
    """:data:`SHARE_RED` or less: red; through yellow to 1: green; light enough for dark text."""
    x = min(max((v - SHARE_RED) / (1 - SHARE_RED), 0.0), 1.0)
    return f"hsl({120 * x:.0f}, 65%, 78%)"


def violation_colour(per_100: float) -> str:
    """0: white; the more problems per 100 patients, the redder (full at :data:`VIOLATIONS_FULL_RED`)."""
    x = min(max(per_100, 0.0) / VIOLATIONS_FULL_RED, 1.0)
    return f"hsl(4, {70 * x:.0f}%, {97 - 29 * x:.0f}%)"


def _cell(row, kind: str) -> str:
    if row is None or pd.isna(row.value):
        why = "no rows the field applies to" if kind == "share" else "no follow-up time to count"
        return f'<td class="na" title="{why}">–</td>'
    num, den = int(row.numerator), int(row.denominator)
    if kind == "share":
        text = f"{100 * row.value:.0f}%" if row.measure == "completeness" else f"{row.value:.2f}"
        unit = "rows" if row.measure == "completeness" else "days of potential follow-up observed"
        title = f"{num:,} of {den:,} {unit}"
        colour = share_colour(row.value)
    else:
        text = f"{row.value:.1f}"
        title = f"{num:,} problem{'s' if num != 1 else ''} in {den:,} patients"
        colour = violation_colour(row.value)
    return f'<td style="background:{colour}" title="{html.escape(title)}">{text}</td>'


def _row(label: str, cells: dict, sites: list[str], kind: str, cls: str = "") -> str:
    tds = "".join(_cell(cells.get(s), kind) for s in sites)
    return f'<tr{f" class={cls!r}" if cls else ""}><th>{label}</th>{tds}</tr>'


def _by_site(frame: pd.DataFrame) -> dict:
    return {r.site: r for r in frame.itertuples(index=False)}


def render_quality(summary: QualitySummary) -> str:
    """The page as HTML text."""
    f = summary.frame
    sites = summary.sites
    n = {r.site: int(r.value) for r in f[f["measure"] == "patients"].itertuples(index=False)}
    esc = html.escape
    head = "".join(f"<th>{esc(s)}<small>{n[s]:,} patients</small></th>" for s in sites)
    span = len(sites) + 1
    body = [f'<tr class="section"><th colspan="{span}">Follow-up completeness <span>Clark\'s C: observed / potential '
            "person-time up to the data lock</span></th></tr>"]
    body.append(_row("Clark's C", _by_site(f[f["measure"] == "followup"]), sites, "share", "total"))
    body.append(f'<tr class="section"><th colspan="{span}">Completeness per field <span>% of the rows the field '
                "applies to that hold a value (“unknown” counts as missing)</span></th></tr>")
    comp = f[f["measure"] == "completeness"]
    for (table, item), rows in comp.groupby(["table", "item"], sort=False):
        label = f'<span class="table">{esc(table)}.</span>{esc(item)}'
        body.append(_row(label, _by_site(rows), sites, "share"))
    body.append(f'<tr class="section"><th colspan="{span}">Rule violations per 100 patients <span>problems the '
                "registry rules find in the site's rows, with the data lock</span></th></tr>")
    viol = f[f["measure"] == "violations"]
    body.append(_row(ALL_RULES, _by_site(viol[viol["item"] == ALL_RULES]), sites, "count", "total"))
    rules = viol[viol["item"] != ALL_RULES]
    for (item, severity), rows in rules.groupby(["item", "severity"], sort=True):
        cells = _by_site(rows)
        what = esc(RULES[item][2]) if item in RULES else ""
        label = f'<span title="{what}">{esc(item)}</span><span class="sev {esc(severity)}">{esc(severity)}</span>'
        body.append(_row(label, cells, sites, "count"))
    lock = summary.data_lock.strftime("%Y-%m-%d")
    total = sum(n.values())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Registry data quality by site</title>
<style>{_CSS}</style></head><body>
<h1>Registry data quality by site</h1>
<p class="meta">{len(sites)} site{'s' if len(sites) != 1 else ''}, {total:,} patients · data lock {lock}
({esc(summary.lock_source)}) · oligomet {esc(__version__)}</p>
<div class="legend"><span>complete / Clark's C<span class="bar" style="background:linear-gradient(to right,
{share_colour(SHARE_RED)}, {share_colour((1 + SHARE_RED) / 2)}, {share_colour(1)})"></span>
≤{100 * SHARE_RED:.0f} – {50 * (1 + SHARE_RED):.0f} – 100%</span>
<span>violations per 100 patients<span class="bar" style="background:linear-gradient(to right,
{violation_colour(0)}, {violation_colour(VIOLATIONS_FULL_RED)})"></span>0 – {VIOLATIONS_FULL_RED:.0f} or more</span>
<span><span class="bar" style="width:24px;background:#eef0f2"></span>no rows to measure</span></div>
<table class="heat"><thead><tr><th></th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<p class="notes">Completeness is measured over the rows a field applies to (a SABR dose over SABR treatments, a
margin over resections, RAS over colorectal primaries, a last contact date over living patients). Ids and required
fields are not shown: validation refuses a stored row without them. Clark's C counts, per patient, follow-up from the
first metastasis detected (else the primary diagnosis) to death or the last contact, against the time to death or the
data lock (Clark et al., Lancet 2002). Hover a cell for its numerator and denominator; the same figures are in
<code>quality.csv</code> beside this page.</p>
</body></html>
"""


def write_quality(summary: QualitySummary, out) -> Path:
    """Write ``quality.html`` and ``quality.csv`` (the tidy frame) into folder ``out``; returns the page."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # a site named "=HYPERLINK(...)" must stay text when the CSV is opened in a spreadsheet
    csv_safe_frame(summary.frame).to_csv(out / "quality.csv", index=False)
    page = out / "quality.html"
    page.write_text(render_quality(summary), encoding="utf-8")
    return page

