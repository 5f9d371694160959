"""Load test of the board web app (issue 14): concurrent simulated board members open case views and post
decisions against a real ``oligomet board serve`` on loopback, on a 100,000-patient synthetic registry.

    python benchmarks/load_board.py [--users 50] [--duration 60] [--patients 100000] [--think 1.0]
                                    [--db /tmp/oligomet-load/registry.sqlite | postgresql://...] [--cases 40]

The agenda holds ``--cases`` colorectal patients drawn at random for each run. Each simulated user logs in once,
then loops until the time is up: open a case of today's agenda
(GET /case/{id}), think, post a decision on it (concordant with the rules when they recommend,
otherwise another option with a reason; a unique follow-up plan marks it), think. Think times are
uniform on [0, 2 x think] seconds (``--think 0``: no pause, a stress test). The agenda's cases are
opened once before the timed phase (a board prepares its meeting; the cold sheet builds are timed and
printed apart). Target: p95 <= 300 ms and no errors. Afterwards the audit chain is verified and every
decision the server acknowledged is looked up in the database (none lost).

The registry is built once and kept (``--db``: a SQLite file or a database URL, e.g.
``postgresql://postgres@127.0.0.1:5432/oligomet_load`` for a database created beforehand); the users and
the agenda of each run are new.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sqlalchemy as sa

PASSWORD = "load test password 1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_url(db: str) -> bool:
    return "://" in db


def has_registry(db: str) -> bool:
    """Whether ``db`` already holds an imported registry (a SQLite file that exists, or a patients table)."""
    if not is_url(db):
        return Path(db).exists()
    from oligomet.registry.store import _normalise_url

    engine = sa.create_engine(_normalise_url(db))
    try:
        return sa.inspect(engine).has_table("patients")
    finally:
        engine.dispose()


def build_registry(db: str, n: int) -> None:
    from oligomet.datasets.synthetic import synthetic_registry
    from oligomet.registry.store import Store

    if not is_url(db):
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = synthetic_registry(n, seed=14)
        with Store(str(db)) as store:
            if not store.import_registry(tables).ok:
                raise SystemExit("the synthetic registry did not import")
    print(f"registry: {n} synthetic patients imported into {db} in {time.perf_counter() - t0:.0f} s")


def prepare_run(db: str, n_users: int, n_cases: int, run: str) -> tuple[list[str], list[int]]:
    """New users (chairs of every site) and today's agenda of ``n_cases`` colorectal patients."""
    from oligomet.board.decisions import DecisionLog
    from oligomet.web.accounts import add_user
    from oligomet.web.store import agenda, open_engine

    DecisionLog(str(db)).close()            # the decision table exists before the first count
    engine = open_engine(str(db))
    with engine.connect() as conn:
        sites = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT site FROM patients ORDER BY site")]
        colorectal = conn.exec_driver_sql(
            "SELECT patient_id, site FROM patients WHERE primary_site = 'colorectal' ORDER BY patient_id").all()
    # new patients each run (a patient's decisions from earlier runs would lengthen its case history)
    patients = random.Random(run).sample(colorectal, n_cases)
    users = [f"load{run}u{i:02d}" for i in range(n_users)]
    for u in users:
        add_user(engine, u, "chair", sites, PASSWORD)
    today = dt.date.today()
    ids = []
    with engine.begin() as conn:
        for pid, site in patients:
            ids.append(conn.execute(agenda.insert().values(meeting_date=today, patient_id=pid, site=site,
                                                           status="to discuss", added_by="load test")
                                    ).inserted_primary_key[0])
    engine.dispose()
    return users, ids


def counts(db: str) -> dict:
    from oligomet.web.store import open_engine

    engine = open_engine(str(db))
    with engine.connect() as conn:
        out = {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar()
               for t in ("patients", "board_decisions", "web_audit", "web_followups")}
    engine.dispose()
    return out


async def login(client, user: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = await client.post("/login", data={"username": user, "password": PASSWORD, "csrf": token})
    if r.status_code != 303:
        raise RuntimeError(f"{user} could not log in: {r.status_code}")


async def simulate(user: str, base: str, cases: list[int], think: float, out: dict, rng):
    """One board member: log in, wait for the start, then view / decide until ``out["deadline"]``."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30.0, follow_redirects=False) as client:
        await login(client, user)
        await out["ready"].wait()
        n = 0
        while time.perf_counter() < out["deadline"]:
            case = rng.choice(cases)
            t0 = time.perf_counter()
            try:
                r = await client.get(f"/case/{case}")
                ok = r.status_code == 200
            except Exception as exc:  # noqa: BLE001 - an error of the test, counted
                ok, r = False, exc
            out["view"].append(time.perf_counter() - t0)
            if not ok:
                out["errors"].append(f"GET /case/{case}: {getattr(r, 'status_code', r)}")
                continue
            await asyncio.sleep(rng.uniform(0, 2 * think))
            token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
            rec = json.loads(html.unescape(re.search(r"data-recommended='([^']*)'", r.text).group(1)))
            n += 1
            plan = f"{user}-{n}"
            data = {"csrf": token, "role": "surgeon", "follow_up": plan}
            if rec and rng.random() < 0.7:
                data["option"] = rec[0]
            else:
                data.update(other="best supportive care", reason="load test: patient's wish")
            t0 = time.perf_counter()
            try:
                r = await client.post(f"/case/{case}/decision", data=data)
                ok = r.status_code == 303
            except Exception as exc:  # noqa: BLE001
                ok, r = False, exc
            out["decide"].append(time.perf_counter() - t0)
            if ok:
                out["acknowledged"].append(plan)
            else:
                out["errors"].append(f"POST /case/{case}/decision: {getattr(r, 'status_code', r)}")
            await asyncio.sleep(rng.uniform(0, 2 * think))


def stats(label: str, xs: list[float]) -> str:
    a = np.array(xs) * 1000
    if not len(a):
        return f"{label:<22s} no request"
    return (f"{label:<22s} n = {len(a):5d}  p50 = {np.percentile(a, 50):6.0f} ms  "
            f"p95 = {np.percentile(a, 95):6.0f} ms  "
            f"p99 = {np.percentile(a, 99):6.0f} ms  max = {a.max():6.0f} ms")


async def main_async(args, base, users, cases) -> dict:
    import httpx

    out = {"view": [], "decide": [], "errors": [], "acknowledged": [], "ready": asyncio.Event()}
    rng = random.Random(14)
    # log in every user before the clock starts (Argon2 is deliberately slow: 50 logins take seconds)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=120.0) as warm:
        await login(warm, users[0])
        cold = []
        for c in cases:                      # the board prepares its meeting: each sheet built once
            t1 = time.perf_counter()
            r = await warm.get(f"/case/{c}")
            cold.append(time.perf_counter() - t1)
            if r.status_code != 200:
                raise SystemExit(f"warm-up: /case/{c} answered {r.status_code}")
    print(f"warm-up: {len(cases)} case sheets built in {sum(cold):.1f} s (median {np.median(cold):.2f} s each)")
    tasks = [asyncio.create_task(simulate(u, base, cases, args.think, out, random.Random(rng.random())))
             for u in users]
    # all logged in when every client waits on "ready": poll the server-side session count
    from oligomet.web.store import open_engine, sessions
    engine = open_engine(str(args.db))
    while True:
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(sessions)
                             .where(sessions.c.username.in_(users))).scalar()
        if n >= len(users) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.5)
    engine.dispose()
    for t in tasks:
        if t.done() and t.exception():
            raise t.exception()
    print(f"{len(users)} users logged in in {time.perf_counter() - t0:.1f} s (Argon2)")
    out["deadline"] = time.perf_counter() + args.duration
    out["ready"].set()
    t_start = time.perf_counter()
    await asyncio.gather(*tasks)
    out["elapsed"] = time.perf_counter() - t_start
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--think", type=float, default=1.0, help="mean think time between requests, seconds")
    p.add_argument("--cases", type=int, default=40, help="cases on today's agenda")
    p.add_argument("--db", default="/tmp/oligomet-load/registry.sqlite",
                   help="SQLite file or database URL (postgresql://user@host:port/database, created beforehand)")
    args = p.parse_args()
    if not has_registry(args.db):
        build_registry(args.db, args.patients)
    run = dt.datetime.now().strftime("%H%M%S")
    users, cases = prepare_run(args.db, args.users, args.cases, run)
    before = counts(args.db)
    port = free_port()
    exe = shutil.which("oligomet") or str(Path(sys.executable).parent / "oligomet")
    t0 = time.perf_counter()
    server = subprocess.Popen([exe, "board", "serve", "--db", str(args.db), "--port", str(port), "--insecure-cookies"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx
        while True:
            if server.poll() is not None:
                raise SystemExit("the server stopped: " + server.stderr.read().decode()[-2000:])
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        print(f"server: oligomet board serve up in {time.perf_counter() - t0:.0f} s (registry loaded) on {base}")
        out = asyncio.run(main_async(args, base, users, cases))
    finally:
        server.terminate()
        server.wait(timeout=30)
    after = counts(args.db)
    backend = sa.engine.make_url(args.db).get_backend_name() if is_url(args.db) else "sqlite"
    print(f"\n{args.users} users, {args.duration:g} s, think time uniform 0-{2 * args.think:g} s, "
          f"{len(cases)} cases, {before['patients']}-patient registry ({backend})")
    print(stats("GET /case/{id}", out["view"]))
    print(stats("POST decision", out["decide"]))
    print(stats("all requests", out["view"] + out["decide"]))
    n_req = len(out["view"]) + len(out["decide"])
    print(f"throughput: {n_req / out['elapsed']:.1f} requests/s; errors: {len(out['errors'])}"
          + (f" (first: {out['errors'][:3]})" if out["errors"] else ""))
    # nothing lost: every acknowledged decision is in the table, with its follow-up plan
    from oligomet.web.store import followups, open_engine, verify_audit
    engine = open_engine(str(args.db))
    with engine.connect() as conn:
        plans = {r[0] for r in conn.execute(sa.select(followups.c.plan).where(followups.c.plan.like(f"load{run}u%")))}
    problems = verify_audit(engine)
    engine.dispose()
    acknowledged = set(out["acknowledged"])
    new_decisions = after["board_decisions"] - before["board_decisions"]
    print(f"decisions acknowledged: {len(acknowledged)}; new rows in board_decisions: {new_decisions}; "
          f"acknowledged but missing: {len(acknowledged - plans)}")
    print(f"audit: {after['web_audit'] - before['web_audit']} new entries; chain "
          + ("intact" if not problems else f"BROKEN: {problems[:3]}"))
    a = np.array(out["view"] + out["decide"]) * 1000
    ok = (len(a) and np.percentile(a, 95) <= 300 and not out["errors"] and not problems
          and new_decisions == len(acknowledged) and not (acknowledged - plans))
    print("target p95 <= 300 ms, no errors, no decision lost, audit intact:", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
