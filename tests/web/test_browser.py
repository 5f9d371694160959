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
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
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
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})   # to see CSP refusals in the console
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
    """What the screen shows at 1366x768 and 1920x1080, and the whole page at each width (-full)."""
    for w, h in ((1366, 768), (1920, 1080)):
        b.set_window_size(w, h)
        time.sleep(0.3)                      # Plotly redraws to the new width
        b.save_screenshot(str(shots / f"{name}-{w}x{h}.png"))
        full = b.execute_script("return document.documentElement.scrollHeight")
        b.set_window_size(w, max(h, full + 140))
        time.sleep(0.3)
        b.save_screenshot(str(shots / f"{name}-{w}-full.png"))
    b.set_window_size(1366, 768)


def _click_and_wait(b, element):
    """Click, and wait until the answer page has replaced this one."""
    element.click()
    WebDriverWait(b, 60).until(staleness_of(element))


def _drawn(b, css):
    """Wait until plots.js has drawn the Plotly plot of ``css`` (the plot's div gets class "drawn")."""
    WebDriverWait(b, 60).until(lambda d: "drawn" in d.find_element(By.CSS_SELECTOR, css).get_attribute("class"))
    return b.find_element(By.CSS_SELECTOR, css)


def _hover_text(b, plot, at: float = 0.25):
    """Move the mouse over a Plotly plot (``at``: the fraction of its width) and return the hover label's text."""
    area = plot.find_element(By.CSS_SELECTOR, ".nsewdrag")
    ActionChains(b).move_to_element_with_offset(area, int(area.size["width"] * (at - 0.5)), 0).perform()
    WebDriverWait(b, 10).until(lambda d: plot.find_element(By.CSS_SELECTOR, ".hoverlayer").text.strip())
    return plot.find_element(By.CSS_SELECTOR, ".hoverlayer").text


def _in_view(b):
    """(top of the decision form, bottom of its "Record" button, height of the viewport), in CSS pixels."""
    return b.execute_script("return [document.getElementById('decision-form').getBoundingClientRect().top, "
                            "document.getElementById('record').getBoundingClientRect().bottom, window.innerHeight]")


def _csp_errors(b):
    return [e["message"] for e in b.get_log("browser") if "Content Security Policy" in e["message"]]


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
    # wait for the answer page: links read before it replaced this one went stale (seen once in CI)
    _click_and_wait(b, b.find_element(By.CSS_SELECTOR, "#add-case button"))
    link = [a for a in b.find_elements(By.CSS_SELECTOR, "#agenda a") if a.text == pid][-1]
    _shot(b, shots, "agenda")
    _click_and_wait(b, link)

    # the case view: missing facts highlighted; the board states two of them
    assert b.find_element(By.TAG_NAME, "h1").text.startswith(f"Case: patient {pid}")
    # the board decides without scrolling: the form is in view when the page opens on the laptop and on
    # the meeting-room screen, and stays in view (sticky) when the board scrolls down the case
    for size in ((1920, 1080), (1366, 768)):
        b.set_window_size(*size)
        time.sleep(0.3)
        b.execute_script("window.scrollTo(0, 0)")
        form_top, record_bottom, height = _in_view(b)
        assert 0 <= form_top < height, (size, form_top, height)
        assert record_bottom <= height, (size, record_bottom, height)   # the "Record decision" button too
        b.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
        scrolled = b.execute_script("return window.scrollY")
        assert scrolled > 0 or size != (1366, 768), "the case page is taller than a laptop's screen"
        form_top, _, height = _in_view(b)
        assert 0 <= form_top < height, ("scrolled by", scrolled, size, form_top, height)
    b.execute_script("window.scrollTo(0, 0)")
    assert b.find_elements(By.CSS_SELECTOR, "tr.missing")
    for fact, value in (("liver_resectable", "no"), ("liver_ablatable", "yes")):
        field = b.find_element(By.ID, f"fact-{fact}")
        field.send_keys(value)
        field.submit()
        WebDriverWait(b, 60).until(staleness_of(field))   # the case page again, with the fact stated
    recommended = json.loads(b.find_element(By.ID, "option").get_attribute("data-recommended"))
    assert recommended, "after the board's facts the rules recommend"
    case_url = b.current_url

    # a concordant decision: the page's script (CSP allows only /static) says so before saving
    Select(b.find_element(By.ID, "option")).select_by_value(recommended[0])
    assert b.find_element(By.ID, "concordance").text.startswith("Concordant")
    b.find_element(By.ID, "follow_up").send_keys("CT chest and abdomen in 3 months")
    _click_and_wait(b, b.find_element(By.ID, "record"))
    # a discordant one, with a script-injection string in the free text
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    b.find_element(By.ID, "other").send_keys("best supportive care " + evil)
    assert b.find_element(By.ID, "concordance").text.startswith("Not concordant")
    b.find_element(By.ID, "reason").send_keys("patient's wish " + evil)
    b.find_element(By.ID, "follow_up").send_keys("review in 6 weeks")
    _click_and_wait(b, b.find_element(By.ID, "record"))
    with pytest.raises(NoAlertPresentException):
        _ = b.switch_to.alert.text   # reading it raises when no alert is open
    rows = b.find_elements(By.CSS_SELECTOR, "#case-decisions tr")
    assert len(rows) >= 3

    # the predicted curves are interactive (Plotly from /vendor, data from the JSON endpoint): hover values
    cox = _drawn(b, "#plot-cox")
    assert cox.find_elements(By.CSS_SELECTOR, ".js-plotly-plot, .main-svg")
    assert "%" in _hover_text(b, cox)
    assert _csp_errors(b) == []

    # the discordant decision was mistyped: the chair corrects it from the case history
    discordant = [r for r in b.find_elements(By.CSS_SELECTOR, "#case-decisions tr[id^=decision-]")
                  if "best supportive care" in r.text][-1]
    old_id = discordant.get_attribute("id").split("-")[1]
    _click_and_wait(b, discordant.find_element(By.CSS_SELECTOR, "a.correct-link"))
    assert f"Correcting decision #{old_id}" in b.find_element(By.ID, "correcting").text
    other = b.find_element(By.ID, "other")
    assert other.get_attribute("value").startswith("best supportive care")   # the old choice, prefilled
    other.send_keys(Keys.CONTROL + "a", Keys.DELETE)       # typed away (fires the form's input events)
    Select(b.find_element(By.ID, "option")).select_by_value(recommended[0])
    assert b.find_element(By.ID, "concordance").text.startswith("Concordant")
    b.find_element(By.ID, "follow_up").send_keys("CT in 3 months")
    _shot(b, shots, "correction")
    _click_and_wait(b, b.find_element(By.ID, "record"))
    old_row = b.find_element(By.ID, f"decision-{old_id}")
    assert "superseded" in old_row.get_attribute("class") and "corrected by #" in old_row.text
    new_row = b.find_elements(By.CSS_SELECTOR, "#case-decisions tr[id^=decision-]")[-1]
    assert f"corrects #{old_id}" in new_row.text and recommended[0] in new_row.text
    _shot(b, shots, "case")

    # the decisions log shows both, the injected text as text
    b.get(base + "/decisions")
    log = b.find_element(By.ID, "decisions").text
    assert "CT chest and abdomen in 3 months" in log and "patient's wish <script>alert(1)</script>" in log
    with pytest.raises(NoAlertPresentException):
        _ = b.switch_to.alert.text   # reading it raises when no alert is open
    _shot(b, shots, "decisions")

    # the quality dashboard: concordance per site and month, outcomes by concordance
    b.get(base + "/quality")
    assert b.find_element(By.TAG_NAME, "h1").text.startswith("Board quality")
    plot = _drawn(b, "#plot-concordance")
    assert "%" in _hover_text(b, plot, at=0.5)          # one month so far: its point is in the middle
    assert b.find_element(By.ID, "caveat").text.startswith("Not an effect of following the rules")
    assert SITE_A in b.find_element(By.ID, "concordance-table").text
    assert _csp_errors(b) == []
    _shot(b, shots, "quality")

    # the printable sheet
    b.get(case_url + "/print")
    assert b.find_element(By.TAG_NAME, "h1").text == f"Tumor board sheet: patient {pid}"
    _shot(b, shots, "print")

    # a form whose CSRF token was removed is refused
    b.get(case_url)
    b.execute_script("document.querySelectorAll('#decision-form input[name=csrf]').forEach(e => e.remove())")
    b.find_element(By.ID, "follow_up").send_keys("should not be saved")
    _click_and_wait(b, b.find_element(By.ID, "record"))
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
                     ("chair_a", "csrf_refused"), ("member_b", "denied"), ("chair_a", "decision_correction"),
                     ("chair_a", "view_quality")):
        assert expected in names, expected
    decided = [d for u, a, d in acts if a == "decision"]
    assert [d["concordant"] for d in decided] == [True, False]
    assert all(d["patient"] == pid for d in decided)
    corrected = [d for u, a, d in acts if a == "decision_correction"]
    assert len(corrected) == 1 and corrected[0]["corrects"] == int(old_id) and corrected[0]["concordant"]
    assert "should not be saved" not in json.dumps(acts)
    assert verify_audit(engine) == []
