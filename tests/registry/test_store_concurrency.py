"""Imports from real, separate processes (issue 16): two sites importing at the same time (D2), and a
process that dies while it creates a store (D15). SQLite and PostgreSQL.

The children are started with ``spawn`` (a clean interpreter: no sockets, threads or connection
pools inherited from pytest) and report through a queue.
"""
from __future__ import annotations

import multiprocessing as mp
import os

import sqlalchemy as sa

from oligomet.registry import TABLE_ORDER, Store, read_registry
from oligomet.registry.store import _head_revision

_SPAWN = mp.get_context("spawn")
_JOIN = 120  # seconds; a child still running then has hung (the test fails, it is not a timing check)
_PAUSE = 5  # seconds the first import waits inside its import for the second to commit


def _import_in_child(url, tables, queue, events, pausing):
    """Import ``tables``. The pausing import stops inside the import right after its cross-site
    check until the other one is done (or a few seconds passed); the other, already started and
    connected, begins its import at that moment."""
    from oligomet.registry import store as store_module

    ready, checked, other_done = events
    if pausing:
        def pause():
            checked.set()
            # Give the other process every chance to commit in between (as the race needs); it
            # cannot if the check holds the write lock, so this gives up after a few seconds.
            other_done.wait(_PAUSE)
        store_module._after_site_check = pause
    try:
        with store_module.Store(url) as store:
            if not pausing:
                ready.set()
                checked.wait(_JOIN)
            result = store.import_registry(tables)
        queue.put((result.status, sorted(set(result.report.errors["rule"]))))
    finally:
        if not pausing:
            other_done.set()


def _site(tables, pids, site):
    """The rows of ``pids`` as exported by hospital ``site``."""
    out = {n: (f[f["patient_id"].isin(pids)] if "patient_id" in f else f) for n, f in tables.items()}
    out["complications"] = tables["complications"][
        tables["complications"]["treatment_id"].isin(set(out["treatments"]["treatment_id"]))]
    out["patients"] = out["patients"].assign(site=site)
    return out


def _run_two(url, first, second):
    """``first`` pauses between its site check and its write; ``second`` imports inside that pause.
    Returns the two (status, error rules), in that order."""
    events = (_SPAWN.Event(), _SPAWN.Event(), _SPAWN.Event())
    queues = (_SPAWN.Queue(), _SPAWN.Queue())
    p2 = _SPAWN.Process(target=_import_in_child, args=(url, second, queues[1], events, False))
    p2.start()
    assert events[0].wait(_JOIN), "the second import process did not start"
    p1 = _SPAWN.Process(target=_import_in_child, args=(url, first, queues[0], events, True))
    p1.start()
    for p in (p1, p2):
        p.join(_JOIN)
        assert p.exitcode == 0, f"import process ended with {p.exitcode}"
    return [q.get(timeout=5) for q in queues]


def _stored_rows_of(store, source):
    """The stored rows of ``source``'s patients, table by table, as sets of tuples."""
    stored = store.load()
    pids = set(source["patients"]["patient_id"])
    out = {}
    for name in TABLE_ORDER:
        frame = stored[name]
        keep = frame["patient_id"].isin(pids) if "patient_id" in frame else frame["treatment_id"].isin(
            set(source["treatments"]["treatment_id"]))
        out[name] = set(frame[keep].astype(str).itertuples(index=False, name=None))
    return out


def _rows(source):
    return {name: set(f.reset_index(drop=True).astype(str).itertuples(index=False, name=None))
            for name, f in source.items()}


def test_two_sites_with_one_patient_id_at_the_same_time_lose_nothing(db_url, clean_dir):
    """D2: Rotterdam checks that P001 is not stored elsewhere and pauses; Amsterdam imports P001 in the
    pause. Before the fix Amsterdam committed, then Rotterdam deleted Amsterdam's P001 with all its
    records and both said "imported". Now the second import waits for the first and refuses the id."""
    tables, _ = read_registry(clean_dir)
    Store(db_url).close()  # the schema exists before the race
    amsterdam = _site(tables, ["P001"], "Amsterdam")
    rotterdam = _site(tables, ["P001", "P003"], "Rotterdam")
    results = _run_two(db_url, rotterdam, amsterdam)
    with Store(db_url) as store:
        stored = store.load()
        # every import that says "imported" has all its rows in the store
        for source, (status, _) in zip((rotterdam, amsterdam), results):
            if status == "imported":
                assert _stored_rows_of(store, source) == _rows(source)
    assert sorted(status for status, _ in results) == ["imported", "rejected"]
    assert [rules for status, rules in results if status == "rejected"] == [["stored_at_other_site"]]
    assert len(stored["patients"]) == stored["patients"]["patient_id"].nunique()


def test_two_sites_with_their_own_patients_at_the_same_time_both_keep_them(db_url, clean_dir):
    tables, _ = read_registry(clean_dir)
    Store(db_url).close()
    amsterdam = _site(tables, ["P001", "P002"], "Amsterdam")
    rotterdam = _site(tables, ["P003", "P004"], "Rotterdam")
    results = _run_two(db_url, rotterdam, amsterdam)
    assert [status for status, _ in results] == ["imported", "imported"]
    with Store(db_url) as store:
        for source in (amsterdam, rotterdam):
            assert _stored_rows_of(store, source) == _rows(source)
        assert sorted(store.load()["patients"]["site"]) == ["Amsterdam"] * 2 + ["Rotterdam"] * 2


def _create_and_die(url):
    """Create a store and die (no cleanup, no rollback by Python) halfway through the schema."""
    from alembic import op

    real, calls = op.create_index, []

    def dying(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            os._exit(9)
        return real(*args, **kwargs)

    op.create_index = dying
    Store(url)


def test_a_process_killed_while_creating_a_store_leaves_it_usable(db_url, clean_dir):
    """D15: the store used to keep the half-made schema, and every later open failed with
    "table imports already exists"."""
    p = _SPAWN.Process(target=_create_and_die, args=(db_url,))
    p.start()
    p.join(_JOIN)
    assert p.exitcode == 9
    with Store(db_url) as store:
        assert store.import_registry(clean_dir).status == "imported"
        assert len(store.load()["patients"]) == 4
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == _head_revision()


def test_delete_is_limited_to_the_importing_site(db_url, clean_dir, monkeypatch):
    """Defence in depth behind the locked check: with the cross-site check switched off, an import of
    another site's patient id must not delete that patient (the insert then fails on the key)."""
    from oligomet.registry import store as store_module

    tables, _ = read_registry(clean_dir)
    amsterdam = _site(tables, ["P001"], "Amsterdam")
    with Store(db_url) as store:
        assert store.import_registry(amsterdam).status == "imported"
        monkeypatch.setattr(store_module, "_site_conflicts", lambda *a: None)
        result = store.import_registry(_site(tables, ["P001"], "Rotterdam"))
        assert result.status == "rejected" and set(result.report.errors["rule"]) == {"store_constraint"}
        assert result.report.errors.loc[0, "patient_id"] == "P001"
        assert _stored_rows_of(store, amsterdam) == _rows(amsterdam)
        assert list(store.load()["patients"]["site"]) == ["Amsterdam"]

