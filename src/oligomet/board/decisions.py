"""The decision record: what the board chose, append-only.

Each decision is one row of the table ``board_decisions`` in the registry's database (SQLite or
PostgreSQL). The registry's Alembic migration ``0004_board_facts`` creates the table and its
append-only triggers, so every store opened for writing (``oligomet registry import``,
``oligomet registry upgrade``, ``oligomet board decide``) has it; this module only reads and
appends, and says which command to run when the database was never migrated. A decision is never
changed or deleted: a correction is a new row whose ``corrects`` points to the row it replaces, and
the triggers refuse UPDATE and DELETE on both SQLite and PostgreSQL.

A decision records the chosen option; whether it follows the rules (``concordant``: the chosen option
is one the fired rules list) and, if not, the reason (required); the rule-set version and the hash of
the evidence shown on the sheet (both read from ``case.json``); the time (UTC) and the role of who
recorded it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROLES = ("surgeon", "medical_oncologist", "radiation_oncologist", "radiologist", "pathologist", "nurse",
         "coordinator", "other")

# How this module reads and writes the table; the table itself is made by the registry's migrations
# (tests/board/test_decisions_store.py checks that the migrated table has exactly these columns).
metadata = sa.MetaData()
decisions = sa.Table(
    "board_decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("patient_id", sa.String, nullable=False),
    sa.Column("case_date", sa.Date, nullable=False),
    sa.Column("chosen_option", sa.Text, nullable=False),
    sa.Column("concordant", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("recommended", sa.Text, nullable=False, doc="JSON list of the options the rules gave"),
    sa.Column("ruleset_version", sa.Text, nullable=False),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("corrects", sa.Integer, sa.ForeignKey("board_decisions.id")),
)

class DecisionError(ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    patient_id: str
    case_date: dt.date
    chosen_option: str
    recommended: tuple[str, ...]
    ruleset_version: str
    evidence_hash: str
    role: str
    reason: str | None = None
    corrects: int | None = None

    @property
    def concordant(self) -> bool:
        return self.chosen_option in self.recommended


def decision_from_sheet(case_json: str | Path, *, option: str, role: str, reason: str | None = None,
                        corrects: int | None = None) -> Decision:
    """A decision on the case of a sheet's ``case.json`` (its rule version and evidence hash)."""
    doc = json.loads(Path(case_json).read_text(encoding="utf-8"))
    try:
        return Decision(patient_id=doc["case"]["patient_id"], case_date=dt.date.fromisoformat(doc["case"]["as_of"]),
                        chosen_option=option, recommended=tuple(doc["rules"]["recommendation"]),
                        ruleset_version=doc["rules"]["version"], evidence_hash=doc["evidence_hash"], role=role,
                        reason=reason, corrects=corrects)
    except KeyError as exc:
        raise DecisionError(f"{case_json}: not a board case.json (missing {exc}); make one with "
                            f"'oligomet board case'") from None


class DecisionLog:
    """The append-only decision table in the registry store at ``url``.

    The store must be migrated (it is by every import; ``oligomet registry upgrade --db URL`` or
    :meth:`open_store` migrate an existing one): a database without the table gets a
    :class:`DecisionError` naming the command, never a table made on the fly."""

    def __init__(self, url: str):
        from ..registry.store import _normalise_url

        self.engine = sa.create_engine(_normalise_url(url))
        try:
            with self.engine.connect() as conn:
                present = sa.inspect(conn).has_table(decisions.name)
        except BaseException:
            self.engine.dispose()
            raise
        if not present:
            shown = self.engine.url.render_as_string(hide_password=True)
            self.engine.dispose()
            raise DecisionError(f"{shown} has no board_decisions table: it is not a registry store migrated to "
                                f"this oligomet; run 'oligomet registry upgrade --db {shown}' (or import a registry "
                                f"into it) and record the decision again")

    @classmethod
    def open_store(cls, url: str) -> "DecisionLog":
        """Migrate the registry store at ``url`` to this oligomet's schema (the registry's Alembic
        migrations, as any store opened for writing) and open its decision record."""
        from ..registry.store import Store

        Store(url).close()
        return cls(url)

    def close(self) -> None:
        self.engine.dispose()

    def append(self, d: Decision, now: dt.datetime | None = None, conn: sa.Connection | None = None) -> int:
        """Append ``d``; returns its id. Refuses an unknown role, a discordant decision without a reason,
        and a correction of a record that does not exist or belongs to another patient. ``conn``: a
        transaction of the caller on the same database to write in (the web app's, with its audit entry)."""
        if conn is None:
            with self.engine.begin() as own:
                return self.append(d, now, own)
        problems = []
        if d.role not in ROLES:
            problems.append(f"role {d.role!r} is not one of {', '.join(ROLES)}")
        if not d.chosen_option.strip():
            problems.append("the chosen option is empty")
        if not d.concordant and not (d.reason or "").strip():
            problems.append("the chosen option is not among the rules' options "
                            f"({'; '.join(d.recommended) or 'none'}): give the reason (--reason)")
        if d.corrects is not None:
            old = conn.execute(sa.select(decisions.c.patient_id).where(decisions.c.id == d.corrects)).first()
            if old is None:
                problems.append(f"decision {d.corrects} to correct does not exist")
            elif old.patient_id != d.patient_id:
                problems.append(f"decision {d.corrects} is about patient {old.patient_id}, not {d.patient_id}")
        if problems:
            raise DecisionError("decision not recorded: " + "; ".join(problems))
        res = conn.execute(decisions.insert().values(
            patient_id=d.patient_id, case_date=d.case_date, chosen_option=d.chosen_option,
            concordant=d.concordant, reason=d.reason, recommended=json.dumps(list(d.recommended)),
            ruleset_version=d.ruleset_version, evidence_hash=d.evidence_hash,
            recorded_at=now or dt.datetime.now(dt.timezone.utc), role=d.role, corrects=d.corrects))
        return int(res.inserted_primary_key[0])

    def history(self, patient_id: str | None = None) -> pd.DataFrame:
        """Every record (oldest first), with ``superseded_by`` naming the correction that replaced it."""
        q = sa.select(decisions).order_by(decisions.c.id)
        if patient_id is not None:
            q = q.where(decisions.c.patient_id == patient_id)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in decisions.columns])
        later = frame.dropna(subset=["corrects"]).groupby("corrects")["id"].max()
        frame["superseded_by"] = frame["id"].map(later).astype("Int64")
        return frame
