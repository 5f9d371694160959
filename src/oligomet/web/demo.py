"""``oligomet board serve --demo``: a synthetic registry, demo users with one-time passwords printed
at start, and today's agenda with a few synthetic patients. Every page says the data are synthetic."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def make_demo(db: str | None = None, n_patients: int = 1500, echo=print) -> str:
    from ..datasets.synthetic import synthetic_registry
    from ..registry.store import Store
    from .accounts import add_user
    from .store import agenda, open_engine

    db = db or str(Path(tempfile.mkdtemp(prefix="oligomet-demo-")) / "demo.sqlite")
    registry = synthetic_registry(n_patients, seed=11)
    with Store(db) as store:
        if not store.import_registry(registry).ok:
            raise RuntimeError("the synthetic registry did not import")
    engine = open_engine(db)
    patients = registry["patients"]
    sites = sorted(patients["site"].astype(str).unique())
    echo(f"SYNTHETIC demo registry ({n_patients} patients, sites {', '.join(sites)}): {db}")
    for name, role, granted in (("chair", "chair", sites), ("member", "board_member", sites),
                                ("datamanager", "data_manager", sites), ("viewer", "viewer", sites[:1])):
        password = add_user(engine, name, role, granted)
        echo(f"demo user {name} ({role}; sites {', '.join(granted)}): one-time password {password}")
    today = dt.date.today()
    with engine.begin() as conn:
        for pid, site in patients[["patient_id", "site"]].head(5).itertuples(index=False):
            conn.execute(agenda.insert().values(meeting_date=today, patient_id=str(pid), site=str(site),
                                                status="to discuss", added_by="demo"))
    engine.dispose()
    n = seed_decisions(db, patients)
    echo(f"{n} SYNTHETIC past board decisions recorded (rule set 'synthetic-demo') for the quality dashboard")
    return db


def seed_decisions(db: str, patients: pd.DataFrame, n: int = 400, seed: int = 11) -> int:
    """Past board decisions on synthetic patients, so that the quality dashboard has something to show:
    meetings from January 2023 to June 2024, on patients diagnosed before and followed beyond the
    meeting. The board departs from the rules more often for patients with ECOG >= 2 (who also die
    sooner in the synthetic registry), which makes the crude hazard ratio of a discordant decision the
    confounded one the dashboard warns about. Labelled by their rule-set version ``synthetic-demo``."""
    from ..board.decisions import Decision, DecisionLog

    rng = np.random.default_rng(seed)
    start, span = pd.Timestamp("2023-01-01"), 545
    days = pd.to_timedelta(rng.integers(0, span, len(patients)), unit="D")
    cand = patients.assign(case_date=start + days)
    end = pd.to_datetime(cand["death_date"]).fillna(pd.to_datetime(cand["last_contact_date"]))
    cand = cand[(pd.to_datetime(cand["primary_diagnosis_date"]) < cand["case_date"]) & (end > cand["case_date"])]
    cand = cand.sample(min(n, len(cand)), random_state=seed).sort_values("case_date")
    log = DecisionLog(db)
    sites = sorted(cand["site"].astype(str).unique())
    for r in cand.itertuples(index=False):
        p_discordant = 0.12 + 0.05 * sites.index(str(r.site)) + (0.3 if (r.ecog or 0) >= 2 else 0.0)
        concordant = rng.random() >= p_discordant
        log.append(Decision(patient_id=str(r.patient_id), case_date=r.case_date.date(),
                            chosen_option="resection" if concordant else "systemic therapy alone",
                            recommended=("resection",), ruleset_version="synthetic-demo", evidence_hash="0" * 64,
                            role="surgeon", reason=None if concordant else "synthetic demo: performance status"),
                   now=r.case_date.to_pydatetime().replace(tzinfo=dt.timezone.utc))
    log.close()
    return len(cand)
