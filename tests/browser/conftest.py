"""The real-browser suite: headless Chromium driven by Selenium against pytest-django's live server.

Generic fixtures for any journey (the website's consent banner, the privacy center, officer screens):
- `browser`: a fresh headless Chromium (own profile directory, no network chatter), closed after the test;
  a screenshot is saved under tests/browser/screenshots/ (git-ignored) when the test fails;
- `browser_headers(browser, {...})`: extra request headers via the DevTools protocol (Sec-GPC, region);
- `browser_script_on_load(browser, js)`: JavaScript run before any page script (navigator overrides);
- `axe_check(browser, context=None)`: run the vendored axe-core and return its violations;
- `screenshot(browser, name)`: save a named screenshot (for the docs and the closing note): into the
  git-ignored tests/browser/screenshots/, or with SAVE_DOC_SCREENSHOTS=1 into the committed docs/screenshots/
  (a test run never dirties the working tree by default).

Every test here carries the `browser` marker: without Chromium and chromedriver it is skipped with the
reason, and with REQUIRE_SERVICES=1 (CI) it fails instead (tests/conftest.py).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
DOCS_SCREENSHOTS = (
    HERE.parents[1] / "docs" / "screenshots" if os.environ.get("SAVE_DOC_SCREENSHOTS") == "1" else SCREENSHOTS
)
AXE = HERE / "vendor" / "axe-core" / "axe.min.js"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


def chromium_binary() -> str | None:
    return os.environ.get("CHROMIUM_BINARY") or shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver_binary() -> str | None:
    return os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")


def missing_browser() -> str | None:
    """Why the browser suite can't run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (pip install -r requirements.txt)"
    if not chromium_binary() or not chromedriver_binary():
        return "needs Chromium and chromedriver (apt-get install -y chromium chromium-driver)"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def browser(request, live_server):
    """A fresh headless Chromium for one test; screenshot on failure."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="privacyops-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver_binary()))
    driver.implicitly_wait(0)
    driver.set_page_load_timeout(30)
    driver.live_server_url = live_server.url
    try:
        yield driver
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            SCREENSHOTS.mkdir(exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / f"FAILED-{request.node.name[:120]}.png"))
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def browser_headers(driver, headers: dict[str, str]) -> None:
    """Send these headers with every request the page makes (DevTools Network.setExtraHTTPHeaders)."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def browser_script_on_load(driver, source: str) -> None:
    """Run `source` in every new document before its own scripts (Page.addScriptToEvaluateOnNewDocument)."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})


def axe_check(driver, context: str | None = None, impacts=("serious", "critical")) -> list[dict]:
    """Violations axe-core finds (WCAG 2.x A/AA rules) in the page or a CSS-selected part of it."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(arguments[0] ? document.querySelector(arguments[0]) : document,"
        " {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
        context,
    )
    return [v for v in result if v["impact"] in impacts]


def screenshot(driver, name: str) -> Path:
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = DOCS_SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
