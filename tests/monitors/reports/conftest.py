"""Fixtures for the report tests: sample documents and a real headless Debian Chromium.

The browser is Debian's ``chromium`` driven by its ``chromedriver`` through selenium; nothing
is downloaded (``make test`` installs both with scripts/ensure_chromium.sh). Without them the
browser tests are skipped with the reason; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import base64
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests need Chromium in CI: {reason}", pytrace=False)
    pytest.skip(f"{reason} (run scripts/ensure_chromium.sh to install them)")


class ReportPage:
    """A report opened in the browser, with the reads and moves the tests make."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, path: pathlib.Path) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(path.resolve().as_uri())
        self.console_errors()  # drop the log of an earlier page
        WebDriverWait(self.driver, 10).until(
            lambda driver: (
                driver.execute_script(
                    "const root = document.getElementById('aimops-report');"
                    "return root && root.getAttribute('data-ready') === 'true';"
                )
                or self.driver.execute_script("return document.querySelector('.error') !== null")
            )
        )

    def console_errors(self) -> list[str]:
        """Console messages at error level (script errors, CSP violations) since the last call."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] in {"SEVERE", "ERROR"}
        ]

    def set_threshold(self, evaluation: int, value: float) -> None:
        """Move a threshold slider as a user does: set its value, then fire ``input``."""
        self.driver.execute_script(
            "const slider = document.querySelector("
            '  `input[type=range][data-eval="${arguments[0]}"][data-field="threshold"]`);'
            "slider.value = arguments[1];"
            "slider.dispatchEvent(new Event('input', {bubbles: true}));",
            evaluation,
            f"{value:.2f}",
        )

    def outputs(self, evaluation: int, fields: tuple[str, ...]) -> dict[str, float]:
        """The numbers the page shows for one evaluation (from each output's data-value)."""
        values: dict[str, float] = self.driver.execute_script(
            "const out = {};"
            "for (const field of arguments[1]) {"
            "  const node = document.querySelector("
            '    `#aimops-report [data-eval="${arguments[0]}"][data-field="${field}"]`'
            "    + ':not(input)');"
            "  out[field] = parseFloat(node.getAttribute('data-value'));"
            "}"
            "return out;",
            evaluation,
            list(fields),
        )
        return values

    def text_of(self, evaluation: int, field: str) -> str:
        selector = f'#aimops-report [data-eval="{evaluation}"][data-field="{field}"]:not(input)'
        text: str = self.driver.execute_script(
            "return document.querySelector(arguments[0]).textContent", selector
        )
        return text

    def chart_range(self, chart: str) -> tuple[float, float, float, float]:
        """The x and y ranges a chart shows now: (x_min, x_max, y_min, y_max)."""
        values: list[str] = self.driver.execute_script(
            'const svg = document.querySelector(`svg[data-chart="${arguments[0]}"]`);'
            "return ['data-x-min', 'data-x-max', 'data-y-min', 'data-y-max']"
            "  .map((name) => svg.getAttribute(name));",
            chart,
        )
        x_min, x_max, y_min, y_max = (float(value) for value in values)
        return x_min, x_max, y_min, y_max

    def screenshot(self, path: pathlib.Path) -> pathlib.Path:
        """A PNG of the whole page, beyond the window's height."""
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (selenium WebDriver) that keeps its console log."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        _unavailable(f"Debian's chromium is missing: {', '.join(missing)}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed in the virtual environment")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Any) -> ReportPage:
    return ReportPage(browser)
