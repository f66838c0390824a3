"""consent.js on the DEBUG demo page in headless Chromium: banner, dialog, tags, GPC, regions, no-JS pages."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from consent.models import Action, ConsentEvent, ConsentState, WebChoice, WebDevice
from consent.web_models import WebRule
from tests.browser.conftest import axe_check, browser_headers, browser_script_on_load, screenshot
from tests.browser.waits import WebDriverWait

# serialized_rollback: the live server needs real commits, and the seeded purposes back after each flush.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BANNER = "#po-consent .po-banner"
DIALOG = "#po-consent [role=dialog]"


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True  # the demo page exists only in development
    settings.CONSENT_WEB_RATE_LIMIT = (1000, 60)


def _wait(driver, condition, timeout=15):
    return WebDriverWait(driver, timeout).until(condition)


def _demo(driver):
    driver.get(driver.live_server_url + reverse("consent:web-demo"))


def _tags(driver) -> dict:
    return driver.execute_script("return window.demoTags || {}")


def _device_state(code: str) -> str | None:
    device = WebDevice.objects.get()
    state = ConsentState.objects.filter(subject_id=device.subject_id, purpose__code=code).first()
    return state.action if state else None


def test_eu_visitor_sees_the_banner_with_everything_off_and_no_tag_loaded(browser):
    browser_headers(browser, {"CF-IPCountry": "DE"})
    _demo(browser)
    banner = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, BANNER)))
    assert "Your privacy choices" in banner.text
    assert "Do Not Sell" not in banner.text  # the EU banner is opt-in, not the US opt-out route
    assert browser.execute_script("return privacyops.consent.allows('advertising')") is False
    assert browser.execute_script("return privacyops.consent.allows('necessary')") is True
    assert _tags(browser) == {}
    screenshot(browser, "banner")
    assert axe_check(browser, "#po-consent") == []
    assert not ConsentEvent.objects.exists()  # showing the banner records nothing


def test_accept_all_loads_the_tags_records_the_choice_and_survives_reload(browser):
    _demo(browser)
    _wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-po=accept]"))).click()
    _wait(browser, lambda d: _tags(d) == {"analytics": True, "advertising": True, "widgets": True})
    assert "analytics" in browser.find_element(By.ID, "consent-event").text
    assert {_device_state(c) for c in ("analytics_cookies", "advertising_pixels", "widgets")} == {
        Action.GRANT
    }
    recorded = ConsentEvent.objects.count()
    assert (
        WebChoice.objects.filter(rule=WebRule.CHOICE, banner_sha256__regex=r"^[0-9a-f]{64}$").count()
        == recorded
    )

    browser.refresh()
    _wait(browser, lambda d: _tags(d) == {"analytics": True, "advertising": True, "widgets": True})
    assert not browser.find_elements(By.CSS_SELECTOR, BANNER)
    assert ConsentEvent.objects.count() == recorded and WebDevice.objects.count() == 1


def test_the_dialog_is_keyboard_operable_keeps_focus_and_records_per_purpose(browser):
    _demo(browser)
    _wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-po=choose]"))).click()
    dialog = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, DIALOG)))
    assert dialog.get_attribute("aria-modal") == "true"
    assert browser.find_element(By.ID, "po-dialog-title").text == "Your privacy choices"
    screenshot(browser, "dialog")
    assert axe_check(browser, "#po-consent") == []
    # Focus starts in the dialog and Tab never leaves it.
    for _ in range(12):
        active = browser.switch_to.active_element
        assert browser.execute_script("return arguments[0].closest('[role=dialog]') !== null", active)
        active.send_keys(Keys.TAB)
    # Switch analytics on with the keyboard only, then save with Enter.
    box = browser.find_element(By.ID, "po-purpose-analytics")
    browser.execute_script("arguments[0].focus()", box)
    browser.switch_to.active_element.send_keys(Keys.SPACE)
    browser.find_element(By.CSS_SELECTOR, "[data-po=save]").send_keys(Keys.ENTER)
    _wait(browser, lambda d: _tags(d) == {"analytics": True})
    assert _device_state("analytics_cookies") == Action.GRANT
    assert _device_state("advertising_pixels") == Action.WITHDRAW
    assert not browser.find_elements(By.CSS_SELECTOR, DIALOG)


def test_gpc_header_and_navigator_signal_record_the_opt_out_and_show_it_was_honoured(browser):
    browser_headers(browser, {"Sec-GPC": "1", "CF-IPCountry": "US"})
    browser_script_on_load(
        browser, "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
    )
    _demo(browser)
    banner = _wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, BANNER)))
    _wait(browser, lambda d: "Opt-out preference signal honoured" in banner.text)
    for code in ("advertising_pixels", "widgets", "share_marketing_partners"):
        assert _device_state(code) == Action.WITHDRAW
    assert set(WebChoice.objects.values_list("rule", "gpc")) == {(WebRule.GPC, True)}
    # US visitor: analytics (not a sale or sharing) is on by default, sharing tags stay off.
    _wait(browser, lambda d: _tags(d) == {"analytics": True})
    assert browser.execute_script("return privacyops.consent.allows('advertising')") is False
    recorded = ConsentEvent.objects.count()
    browser.refresh()
    _wait(browser, lambda d: _tags(d) == {"analytics": True})
    assert ConsentEvent.objects.count() == recorded  # the signal is recorded once, not per page view


def test_do_not_sell_page_works_without_javascript(browser):
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(browser.live_server_url + reverse("consent:web-do-not-sell"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Do Not Sell or Share My Personal Information"
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=status]"), "Done"))
    for code in ("advertising_pixels", "widgets", "share_marketing_partners"):
        assert _device_state(code) == Action.WITHDRAW
    assert set(WebChoice.objects.values_list("rule", flat=True)) == {WebRule.DO_NOT_SELL}
