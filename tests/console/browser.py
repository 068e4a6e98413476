"""Headless Debian chromium driven by selenium through the system chromedriver: nothing is
downloaded at run time. Without the browser the tests skip with how to install it; under
CI=true they fail."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from agent.settings import ci_required

INSTALL_HELP = "the browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver",)


def _which(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def require_chromium() -> tuple[Path, Path]:
    """(browser, driver), or skip (fail under CI=true) with how to install them."""
    browser, driver = _which(CHROMIUM), _which(CHROMEDRIVER)
    if browser and driver:
        return Path(browser), Path(driver)
    if ci_required():
        pytest.fail(f"CI=true requires chromium: {INSTALL_HELP}")
    pytest.skip(INSTALL_HELP)


@contextmanager
def headless_chromium(*, width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless chromium session, closed afterwards."""
    browser, driver_path = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations land here
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def send_identity(driver: WebDriver, headers: dict[str, str]) -> None:
    """Stand in for the authenticating proxy: every later request carries `headers` (none: {})."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def wait_until(condition: Callable[[], bool], *, timeout: float = 20.0, what: str = "the page") -> None:
    """Poll `condition` (wall time) until it holds; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the page may be mid-reload
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def click(driver: WebDriver, selector: str) -> None:
    """Click the element `selector` names, again if a self-reloading page replaced it meanwhile."""

    def attempt() -> bool:
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_until(attempt, what=f"a clickable {selector}")
