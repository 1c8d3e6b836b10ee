"""The dashboard inside a real Airflow: ``airflow api-server`` with the repository's ``plugins/``
(tests/airflow_server.py), a demo ledger (tests/app/dashboard/seed.py), and Debian ``chromium`` +
``chromium-driver`` headless. An operator signs in through Airflow's own login, finds 联办运行看板 under Browse,
and reads in Airflow's frame exactly the numbers ``lianban status --json`` prints for the same ledger; Airflow's
plugin listing names the nav entry and the mounted app, and without a session the dashboard answers nothing. One
DAG, triggered once before the server starts, is "the last runs of each DAG" read from Airflow's own database.
The screenshot is kept in ``var/test-artefacts/dashboard.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lianban.app.config import Paths
from lianban.app.dashboard.page import figures
from lianban.app.setup import init
from tests.airflow_server import ApiServer, api_server
from tests.app.dashboard.seed import seed_demo

pytestmark = [pytest.mark.airflow,
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                                 reason="needs Debian chromium and chromium-driver (scripts/ensure-chromium.sh)")]
ARTEFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artefacts"
NAV_NAME, ROUTE = "联办运行看板", "lianban-dashboard"
WAIT = 60
PROBE = "dashboard_probe"
PROBE_DAG = f"""from airflow.sdk import DAG, task

with DAG("{PROBE}", schedule=None):
    @task
    def noop() -> None:
        pass

    noop()
"""


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A demo installation, shared by the module's tests (one api-server for both)."""
    paths = Paths.from_env({"LIANBAN_HOME": str(tmp_path_factory.mktemp("dashboard-airflow") / "home")})
    init(paths, with_frontend=True)
    seed_demo(paths)
    return paths


@pytest.fixture(scope="module")
def airflow(paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The api-server, with one DAG triggered once (queued: no scheduler runs it) for "the last runs"."""
    dags = tmp_path_factory.mktemp("dags")
    (dags / "probe.py").write_text(PROBE_DAG)
    first = (["dags", "reserialize"], ["dags", "trigger", PROBE])
    with api_server(tmp_path_factory.mktemp("airflow"), installation(paths), dags, first) as server:
        yield server


def installation(paths: Paths) -> dict[str, str]:
    """This installation's settings: its home, and no other LIANBAN_* setting inherited from the caller."""
    return {"LIANBAN_HOME": str(paths.home), "LIANBAN_LEDGER_URL": paths.ledger_url,
            "LIANBAN_FRONTEND_URL": paths.frontend_url, "LIANBAN_KEYS_DIR": str(paths.keys_dir)}


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN",
                 "--window-size=1440,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    yield driver
    driver.quit()


def status_json(paths: Paths) -> dict[str, object]:
    """`lianban status --json` as an operator runs it, for the same installation."""
    done = subprocess.run([sys.executable, "-m", "lianban.app.cli", "status", "--json"], capture_output=True,
                          text=True, check=True, timeout=120, env={**os.environ, **installation(paths)})
    return dict(json.loads(done.stdout))


def _sign_in(driver: object, airflow: ApiServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.wait import WebDriverWait

    assert isinstance(driver, WebDriver)
    driver.get(f"{airflow.url}/lianban/")  # no session yet: Airflow's login page, then back here
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.NAME, "username"))
    assert "/auth/login" in driver.current_url
    driver.find_element(By.NAME, "username").send_keys(airflow.username)
    driver.find_element(By.NAME, "password").send_keys(airflow.password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.title == NAV_NAME)


def _open_from_the_nav(driver: object, airflow: ApiServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.wait import WebDriverWait

    assert isinstance(driver, WebDriver)
    driver.get(f"{airflow.url}/")
    browse = WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.XPATH, "//button[normalize-space()='Browse']"))
    browse[0].click()
    entry = WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.XPATH, f"//a[normalize-space()='{NAV_NAME}']"))
    entry[0].click()
    frame = WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.TAG_NAME, "iframe"))
    # the nav entry's own page; once the frame has loaded, Airflow's UI may add the frame's path after it
    assert f"/plugin/{ROUTE}" in driver.current_url, driver.current_url
    driver.switch_to.frame(frame[0])
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-key]"))


def _shown(driver: object) -> dict[str, set[str]]:
    from selenium.webdriver.common.by import By

    shown: dict[str, set[str]] = {}
    for element in driver.find_elements(By.CSS_SELECTOR, "[data-key]"):  # type: ignore[attr-defined]
        shown.setdefault(element.get_attribute("data-key"), set()).add(element.text)
    return shown


def _screenshot(driver: object) -> Path:
    driver.switch_to.default_content()  # type: ignore[attr-defined]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / "dashboard.png"
    assert driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    print(f"screenshot: {path}")
    return path


def test_an_operator_signs_in_and_reads_the_ledgers_numbers_in_airflow(airflow: ApiServer, browser: object,
                                                                      paths: Paths) -> None:
    from selenium.webdriver.common.by import By

    _sign_in(browser, airflow)
    _open_from_the_nav(browser, airflow)
    expected = figures(status_json(paths))
    assert expected["cases"] > 0 and expected["dead_letters"] > 0
    assert _shown(browser) == {key: {str(value)} for key, value in expected.items()}
    runs = browser.find_element(By.CSS_SELECTOR, "#runs tbody").text  # type: ignore[attr-defined]
    assert runs.startswith(PROBE) and "排队中" in runs
    assert _screenshot(browser).stat().st_size > 10_000


def test_airflow_lists_the_nav_entry_and_guards_the_dashboard(airflow: ApiServer, paths: Paths) -> None:
    token = requests.post(f"{airflow.url}/auth/token", json={"username": airflow.username,
                                                             "password": airflow.password}, timeout=30).json()
    plugins = requests.get(f"{airflow.url}/api/v2/plugins", timeout=30,
                           headers={"Authorization": f"Bearer {token['access_token']}"}).json()["plugins"]
    [plugin] = [p for p in plugins if p["name"] == "lianban_dashboard"]
    assert [(v["name"], v["url_route"], v["destination"], v["href"]) for v in plugin["external_views"]] == [
        (NAV_NAME, ROUTE, "nav", "lianban/")]
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/lianban"]
    assert requests.get(f"{airflow.url}/lianban/numbers.json", timeout=30).status_code == 401
    signed = requests.get(f"{airflow.url}/lianban/numbers.json", timeout=30,
                          cookies={"_token": token["access_token"]})
    assert signed.status_code == 200 and signed.json()["status"] == status_json(paths)
    [run] = signed.json()["dag_runs"]  # from Airflow's metadata database, through the plugin's provider
    assert (run["dag_id"], run["state"]) == (PROBE, "queued") and run["run_id"].startswith("manual__")
