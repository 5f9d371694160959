"""``oligomet board serve --demo``: a synthetic registry, demo users with one-time passwords printed
at start, and today's agenda with a few synthetic patients. Every page says the data are synthetic."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path



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
        echo(f"demo user {name} ({role}; sites {', '.join(granted)}): one-time password {add_user(engine, name, role, granted)}")
    today = dt.date.today()
    with engine.begin() as conn:
        for pid, site in patients[["patient_id", "site"]].head(5).itertuples(index=False):
            conn.execute(agenda.insert().values(meeting_date=today, patient_id=str(pid), site=str(site),
                                                status="to discuss", added_by="demo"))
    engine.dispose()
    return db
