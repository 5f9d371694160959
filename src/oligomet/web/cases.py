"""The bridge from the web app to the board layer: the registry loaded once, each agenda case's sheet
built by ``board.sheet.build_sheet`` with the board's fact edits laid over the registry's facts."""
from __future__ import annotations

import json
import threading
import warnings

import pandas as pd
import sqlalchemy as sa

from .store import agenda, fact_edits

# facts the board may state in the meeting: fact name -> (path in the case, parse)
_BOOL = {"yes": True, "no": False}
EDITABLE = {
    **{f"{organ}_{fact}": (("organs", organ, field), _BOOL)
       for organ in ("liver", "lung")
       for fact, field in (("resectable", "technically_resectable"), ("ablatable", "ablatable"),
                           ("curable", "curable"))},
    "liver_bilobar": (("organs", "liver", "bilateral"), _BOOL),
    "lung_bilateral": (("organs", "lung", "bilateral"), _BOOL),
    "harder_organ": (("harder_organ",), {"equal": "equal", "liver": "liver", "lung": "lung"}),
    "fev1_pct": (("fev1_pct",), float),
    "comorbidity": (("comorbidity",), float),
    "ecog": (("ecog",), int),
    "cea": (("cea",), float),
}


class FactError(ValueError):
    pass


def parse_fact(fact: str, text: str):
    """The typed value of an edit, or FactError naming what is allowed."""
    if fact not in EDITABLE:
        raise FactError(f"{fact!r} cannot be edited here; editable: {', '.join(EDITABLE)}")
    _, parse = EDITABLE[fact]
    text = (text or "").strip()
    if isinstance(parse, dict):
        if text not in parse:
            raise FactError(f"{fact}: give one of {', '.join(parse)}")
        return parse[text]
    try:
        return parse(text)
    except ValueError:
        raise FactError(f"{fact}: {text!r} is not a number") from None


def overrides_from(edits: dict) -> dict:
    out: dict = {}
    for fact, value in edits.items():
        path, _ = EDITABLE[fact]
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


class Board:
    """The registry (read once at start) and the sheets of the agenda's cases."""

    def __init__(self, engine: sa.Engine, tables: dict[str, pd.DataFrame]):
        from ..board.predict import RegistryContext

        self.engine = engine
        self.tables = tables
        self.context = RegistryContext(tables)
        patients = tables["patients"]
        self.site_of = dict(zip(patients["patient_id"].astype(str), patients["site"].astype(str)))
        self._sheets: dict = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, engine: sa.Engine, url: str) -> "Board":
        from ..registry.store import Store

        with Store(url) as store:
            tables = store.load()
        return cls(engine, tables)

    def edits(self, agenda_id: int) -> list[dict]:
        """The board's fact edits of an agenda item, oldest first. Plain rows, not a DataFrame: the case
        page asks on every view, and building a frame cost more than the query."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(fact_edits).where(fact_edits.c.agenda_id == agenda_id)
                                                  .order_by(fact_edits.c.id)).mappings()]

    def item(self, agenda_id: int):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(agenda).where(agenda.c.id == agenda_id)).first()

    def sheet(self, item, edits: list[dict] | None = None):
        """The board sheet of an agenda item, with the latest edit of each fact applied (cached until
        the next edit). ``edits``: the item's :meth:`edits`, if the caller has them already."""
        from ..board.case import case_from_registry
        from ..board.sheet import build_sheet

        edits = self.edits(item.id) if edits is None else edits
        latest = {e["fact"]: json.loads(e["value"]) for e in edits}
        key = (item.id, len(edits))
        with self._lock:
            if key in self._sheets:
                return self._sheets[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case = case_from_registry(self.tables, item.patient_id, item.meeting_date, context=self.context)
            if latest:
                case = case.updated(overrides_from(latest), source="board meeting")
            sheet = build_sheet(case, self.context)
        with self._lock:
            self._sheets[key] = sheet
        return sheet
