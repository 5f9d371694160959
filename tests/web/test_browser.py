"""The board web app in a real browser: Debian's chromium driven by Selenium through chromium-driver.

The server runs in this process (uvicorn, 127.0.0.1, a free port) on the session's test database.
Without chromium these tests skip, except in CI (OLIGOMET_REQUIRE_BROWSER=1), where they fail.
Screenshots of each page go to $OLIGOMET_SCREENSHOTS (default: the test's tmp folder).
"""
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from oligomet.web.store import audit, verify_audit

from .conftest import PASSWORD, SITE_A, add_user, board_case

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    if os.environ.get("OLIGOMET_REQUIRE_BROWSER"):
        raise RuntimeError("OLIGOMET_REQUIRE_BROWSER is set but chromium / chromedriver are missing: "
                           "apt-get install chromium chromium-driver (scripts/ensure_browser.sh)")
    pytest.skip("chromium and chromedriver not installed", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(web):
    import uvicorn
    app, _ = web
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1366,768"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(120)
    driver.implicitly_wait(10)  # a loaded 2-core CI machine can be slow to render
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("OLIGOMET_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _login(b, base, user, password=PASSWORD):
    b.delete_all_cookies()
    b.get(base + "/login")
    b.find_element(By.ID, "username").send_keys(user)
    b.find_element(By.ID, "password").send_keys(password)
    button = b.find_element(By.ID, "login-button")
    button.click()
    WebDriverWait(b, 20).until(staleness_of(button))   # the answer page has replaced the form


def _shot(b, shots, name):
    for w, h in ((1366, 768), (1920, 1080)):
        b.set_window_size(w, h)
        b.save_screenshot(str(shots / f"{name}-{w}x{h}.png"))
    b.set_window_size(1366, 768)


def _actions(engine, since):
    with engine.connect() as conn:
        return [(r.username, r.action, json.loads(r.detail)) for r in
                conn.execute(sa.select(audit).where(audit.c.id > since).order_by(audit.c.id))]


def _last_audit_id(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(audit.c.id))).scalar() or 0


def test_board_meeting_in_chromium(server, browser, web, registry, shots):
    app, engine = web
    b, base = browser, server
    start = _last_audit_id(engine)

    # a wrong password five times locks the account, and the right one is then refused
    add_user(engine, "browser_locked", "viewer", [SITE_A], PASSWORD)
    for _ in range(5):
        _login(b, base, "browser_locked", "not the password")
    assert "locked" in b.find_element(By.ID, "message").text
    _login(b, base, "browser_locked")
    assert "locked" in b.find_element(By.ID, "message").text
    _shot(b, shots, "login")

    # the chair logs in (the Secure, HttpOnly cookie is kept by the browser on loopback) and builds the agenda
    pid, day = board_case(registry, SITE_A)
    _login(b, base, "chair_a")
    assert b.find_element(By.TAG_NAME, "h1").text.startswith("Meeting agenda")
    cookie = b.get_cookie("oligomet_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    b.get(f"{base}/?date={day}")
    b.find_element(By.ID, "patient_id").send_keys(pid)
    b.find_element(By.CSS_SELECTOR, "#add-case button").click()
    link = [a for a in b.find_elements(By.CSS_SELECTOR, "#agenda a") if a.text == pid][-1]
    _shot(b, shots, "agenda")
    link.click()

    # the case view: missing facts highlighted; the board states two of them
    assert b.find_element(By.TAG_NAME, "h1").text.startswith(f"Case: patient {pid}")
    assert b.find_elements(By.CSS_SELECTOR, "tr.missing")
    for fact, value in (("liver_resectable", "no"), ("liver_ablatable", "yes")):
        field = b.find_element(By.ID, f"fact-{fact}")
        field.send_keys(value)
        field.submit()
    recommended = json.loads(b.find_element(By.ID, "option").get_attribute("data-recommended"))
    assert recommended, "after the board's facts the rules recommend"
    _shot(b, shots, "case")
    case_url = b.current_url

    # a concordant decision: the page's script (CSP allows only /static) says so before saving
    Select(b.find_element(By.ID, "option")).select_by_value(recommended[0])
    assert b.find_element(By.ID, "concordance").text.startswith("Concordant")
    b.find_element(By.ID, "follow_up").send_keys("CT chest and abdomen in 3 months")
    b.find_element(By.ID, "record").click()
    # a discordant one, with a script-injection string in the free text
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    b.find_element(By.ID, "other").send_keys("best supportive care " + evil)
    assert b.find_element(By.ID, "concordance").text.startswith("Not concordant")
    b.find_element(By.ID, "reason").send_keys("patient's wish " + evil)
    b.find_element(By.ID, "follow_up").send_keys("review in 6 weeks")
    b.find_element(By.ID, "record").click()
    with pytest.raises(NoAlertPresentException):
        b.switch_to.alert.text
    rows = b.find_elements(By.CSS_SELECTOR, "#case-decisions tr")
    assert len(rows) >= 3

    # the decisions log shows both, the injected text as text
    b.get(base + "/decisions")
    log = b.find_element(By.ID, "decisions").text
    assert "CT chest and abdomen in 3 months" in log and "patient's wish <script>alert(1)</script>" in log
    with pytest.raises(NoAlertPresentException):
        b.switch_to.alert.text
    _shot(b, shots, "decisions")

    # the printable sheet
    b.get(case_url + "/print")
    assert b.find_element(By.TAG_NAME, "h1").text == f"Tumor board sheet: patient {pid}"
    _shot(b, shots, "print")

    # a form whose CSRF token was removed is refused
    b.get(case_url)
    b.execute_script("document.querySelectorAll('#decision-form input[name=csrf]').forEach(e => e.remove())")
    b.find_element(By.ID, "follow_up").send_keys("should not be saved")
    b.find_element(By.ID, "record").click()
    assert "CSRF" in b.find_element(By.ID, "message").text

    # a site-B member is refused the site-A case
    _login(b, base, "member_b")
    b.get(case_url)
    assert b.find_element(By.TAG_NAME, "h1").text == "Not possible"
    assert pid not in b.page_source
    _shot(b, shots, "refused")

    acts = _actions(engine, start)
    names = [(u, a) for u, a, _ in acts]
    for expected in (("browser_locked", "login_locked"), ("chair_a", "login_ok"), ("chair_a", "view_agenda"),
                     ("chair_a", "agenda_add"), ("chair_a", "view_case"), ("chair_a", "fact_edit"),
                     ("chair_a", "decision"), ("chair_a", "view_decisions"), ("chair_a", "view_print"),
                     ("chair_a", "csrf_refused"), ("member_b", "denied")):
        assert expected in names, expected
    decided = [d for u, a, d in acts if a == "decision"]
    assert [d["concordant"] for d in decided] == [True, False]
    assert all(d["patient"] == pid for d in decided)
    assert "should not be saved" not in json.dumps(acts)
    assert verify_audit(engine) == []
