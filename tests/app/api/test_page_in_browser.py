"""The page ``/query`` in a real headless browser (Debian ``chromium`` + ``chromium-driver``), at a phone's
size: the applicant fills in the form, reads one row per item with its status in colour, and the browser
reports no Content-Security-Policy violation. The screenshot is kept in ``var/test-artefacts/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.api.conftest import Hub

ARTEFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artefacts"
PHONE = {"width": 390, "height": 844, "pixelRatio": 2.0}
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Debian chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver)")


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"):
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    yield driver
    driver.quit()


def test_an_applicant_queries_on_a_phone_and_reads_each_item(hub: Hub, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.wait import WebDriverWait

    assert isinstance(browser, WebDriver)
    app = hub.app(0)
    browser.get(f"{hub.url}/query")
    assert browser.title == "退休一件事 办件进度查询"
    browser.find_element(By.NAME, "case_no").send_keys(app["case_no"])
    browser.find_element(By.NAME, "password").send_keys(app["password"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    rows = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "tbody tr"))
    assert len(rows) == 3 and "职工养老保险待遇申领" in rows[0].text and "补正资料" in rows[0].text
    colours = {s.text: s.value_of_css_property("color") for s in browser.find_elements(By.CSS_SELECTOR, ".status")}
    assert len({colours["补正资料"], colours["已办结"], colours["等待部门反馈"]}) == 3  # the stylesheet applied
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width == [PHONE["width"]] * 2  # a phone's width, and no sideways scrolling
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTEFACTS / "query-page-phone.png"))
    problems = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]
    assert not problems, problems
