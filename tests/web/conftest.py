"""A small synthetic registry in SQLite with the web tables, users at two sites, and a case of each site."""
import re
import warnings

import pandas as pd
import pytest

from oligomet.datasets.synthetic import synthetic_registry
from oligomet.registry.store import Store
from oligomet.web.accounts import add_user
from oligomet.web.store import open_engine

PASSWORD = "correct horse battery"
SITE_A, SITE_B = "Site A (synthetic)", "Site B (synthetic)"


@pytest.fixture(scope="session")
def registry():
    return synthetic_registry(600, seed=11)


def board_case(registry, site: str):
    """(patient id, board date) of a colorectal patient of ``site`` with at most 3 liver metastases under
    3 cm and none elsewhere (the ablation suggestion applies once the board judges them unresectable and
    ablatable), two weeks after the metastasis diagnosis."""
    from oligomet.endpoints import derive_endpoints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fr = derive_endpoints(registry, origin="metastasis_diagnosis")
    site_of = registry["patients"].set_index("patient_id")["site"]
    fr = fr[(fr["patient_id"].map(site_of) == site) & (fr["primary_site"] == "colorectal")
            & (fr["met_organs"] == "liver") & (fr["n_lesions"] <= 3) & (fr["max_diameter_mm"] < 30)]
    row = fr.iloc[0]
    return row["patient_id"], (row["origin_date"] + pd.Timedelta(days=14)).date().isoformat()


@pytest.fixture(scope="session")
def db_url(registry, tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "reg.sqlite"
    with Store(path) as store:
        assert store.import_registry(registry).ok
    engine = open_engine(str(path))
    add_user(engine, "chair_a", "chair", [SITE_A], PASSWORD)
    add_user(engine, "member_b", "board_member", [SITE_B], PASSWORD)
    add_user(engine, "viewer_a", "viewer", [SITE_A], PASSWORD)
    add_user(engine, "dm_ab", "data_manager", [SITE_A, SITE_B], PASSWORD)
    engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def web(db_url):
    """(app, engine) sharing one Board (the registry is read once)."""
    from oligomet.web.app import create_app
    from oligomet.web.cases import Board
    engine = open_engine(db_url)
    return create_app(engine, Board.from_url(engine, db_url)), engine


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, username, password=PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)},
                       follow_redirects=False)


def client_for(app, username=None):
    from fastapi.testclient import TestClient
    c = TestClient(app, base_url="https://testserver")
    if username:
        assert login(c, username).status_code == 303
    return c


@pytest.fixture(scope="session")
def case_a(web, registry):
    """Agenda id of a site-A case, added by the site-A chair."""
    app, _ = web
    pid, day = board_case(registry, SITE_A)
    c = client_for(app, "chair_a")
    r = c.post("/agenda", data={"date": day, "patient_id": pid, "csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 200 and pid in r.text
    return int(re.search(r'href="/case/(\d+)"', r.text).group(1)), pid, day
