"""The privacy officer's workspace in headless Chromium (issue 16): sign in, a dashboard that leaves the app
list in reach, a subject found by email and revealed with a reason, the case page as a workspace at 1440 and
390 px, the notice preview by email; axe-core finds no serious or critical violation on these pages.

The case page and subject page screenshots at both widths go to tests/browser/screenshots/, or with
SAVE_DOC_SCREENSHOTS=1 to docs/screenshots/ (the closing note of issue 16 shows them); a failing journey
leaves a screenshot in tests/browser/screenshots/.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from selenium.webdriver.common.by import By

from audit.models import AuditEvent
from requests_app import deadlines
from requests_app.models import PrivacyRequest, Regime, RequestType
from tests.browser.conftest import DOCS_SCREENSHOTS, axe_check
from tests.browser.waits import WebDriverWait
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import make_full_subject
from tests.requests_app.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def officer(django_user_model, settings):
    settings.OTP_ADMIN_REQUIRED = False
    user = django_user_model.objects.create_user(
        username="olivia", password=PASSWORD, email="olivia@example.com", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Privacy officer"))
    return user


def sign_in(browser, user) -> None:
    browser.get(browser.live_server_url + reverse("admin:login"))
    browser.find_element(By.ID, "id_username").send_keys(user.username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "user-tools"), "not signed in")


def width(browser, pixels: int) -> None:
    """Lay the page out at this viewport width (mobile metrics below 800 px)."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": 900, "deviceScaleFactor": 1, "mobile": pixels < 800},
    )
    browser.refresh()


def overflow(browser) -> int:
    """How many pixels the page is wider than the screen (0: nothing to scroll sideways)."""
    return browser.execute_script(
        "return Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth);"
    )


def save_docs_screenshot(browser, name: str, pixels: int) -> Path:
    """The whole page (up to 4,000 px tall) at this width, into docs/screenshots/."""
    height = min(4000, browser.execute_script("return document.documentElement.scrollHeight;"))
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": height, "deviceScaleFactor": 1, "mobile": pixels < 800},
    )
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = DOCS_SCREENSHOTS / f"{name}-{pixels}.png"
    browser.save_screenshot(str(path))
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": 900, "deviceScaleFactor": 1, "mobile": pixels < 800},
    )
    return path


def no_serious_violations(browser) -> None:
    violations = axe_check(browser)
    assert violations == [], violations


def test_sign_in_and_the_dashboard_leaves_the_app_list_in_reach(browser, officer):
    make_case()
    sign_in(browser, officer)
    width(browser, 1440)
    assert browser.find_element(By.ID, "dashboard").is_displayed()
    first_app = browser.find_element(
        By.CSS_SELECTOR, "#content-main .app-requests_app, #content-main .module"
    )
    top = browser.execute_script(
        "return document.querySelector('#content-main [class^=app-]').getBoundingClientRect().top;"
    )
    assert first_app and top < 1600, f"the app list starts {top} px down"
    assert overflow(browser) == 0
    no_serious_violations(browser)


def test_find_a_subject_by_email_and_reveal_with_a_reason(browser, officer):
    subject = make_full_subject(email="grace.hopper@example.com")
    sign_in(browser, officer)
    browser.get(
        browser.live_server_url + reverse("admin:inventory_datasubject_changelist") + "?kind__exact=person"
    )
    box = browser.find_element(By.ID, "searchbar")
    box.send_keys("  Grace.Hopper@EXAMPLE.com ")
    box.submit()
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a, #result_list tbody tr td a").click()
    WebDriverWait(browser, 10).until(
        lambda d: f"/datasubject/{subject.pk}/change/" in d.current_url, "the subject page did not open"
    )
    width(browser, 1440)
    assert overflow(browser) == 0, "the subject page is wider than the screen at 1440 px"
    no_serious_violations(browser)
    save_docs_screenshot(browser, "subject-page", 1440)
    width(browser, 390)
    save_docs_screenshot(browser, "subject-page", 390)
    width(browser, 1440)

    reason = browser.find_element(By.ID, "reveal-reason")
    reason.send_keys("DSAR check for case 1a2b")
    browser.find_element(By.CSS_SELECTOR, "button[form=reveal-form]").click()
    # The POST redirects back to the subject page; wait for that navigation instead of racing it.
    WebDriverWait(browser, 10).until(
        lambda d: d.current_url.endswith("#subject-records"), "the reveal did not come back to the records"
    )
    assert "_changelist_filters=" in browser.current_url  # back to the list you came from, filters and all
    assert f"tok_{subject.pk}_visa" in browser.find_element(By.ID, "subject-records").text
    event = AuditEvent.objects.get(action="sensitive.revealed")
    assert event.details["reason"] == "DSAR check for case 1a2b"


def test_the_case_page_is_a_workspace_at_1440_and_390_px(browser, officer):
    case = make_case(request_type=RequestType.ERASURE, regime=Regime.CCPA)
    PrivacyRequest.objects.filter(pk=case.pk).update(due_on=deadlines.business_today() + timedelta(days=5))
    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:requests_app_privacyrequest_change", args=[case.pk]))
    width(browser, 1440)
    header = browser.find_element(By.ID, "case-header").text
    assert str(case.reference) in header and "5 days left" in header and "Unassigned" in header
    form = browser.find_element(By.CSS_SELECTOR, ".case-main fieldset.module")
    actions = browser.find_element(By.ID, "case-actions")
    assert form.size["width"] > 700, f"the Case fieldset is squeezed to {form.size['width']} px"
    assert actions.location["x"] > form.location["x"] + form.size["width"] - 1  # beside it, not over it
    assert overflow(browser) == 0
    no_serious_violations(browser)
    save_docs_screenshot(browser, "case-page", 1440)

    width(browser, 390)
    assert overflow(browser) == 0, "the case page scrolls sideways at 390 px"
    form = browser.find_element(By.CSS_SELECTOR, ".case-main fieldset.module")
    actions = browser.find_element(By.ID, "case-actions")
    assert form.size["width"] > 300
    assert actions.location["y"] < form.location["y"]  # actions first, then the case
    save_docs_screenshot(browser, "case-page", 390)


def test_the_notice_preview_by_email_shows_the_notice(browser, officer, settings):
    settings.OTP_ADMIN_REQUIRED = False
    customer = make_full_subject(email="ada@example.com")
    log(customer, MarketingPartnerFactory(legal_name="Catalogue Partner Inc."), "email")
    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:disclosures_notice_preview"))
    no_serious_violations(browser)
    browser.find_element(By.ID, "id_subject").send_keys(" ADA@example.com")
    year = browser.find_element(By.ID, "id_year")
    year.clear()
    year.send_keys("2025")
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "Catalogue Partner Inc." in d.page_source, "no notice shown")
    assert "Enter a valid UUID" not in browser.page_source


def test_the_public_intake_page_is_accessible(browser):
    browser.get(browser.live_server_url + reverse("requests_app:intake"))
    no_serious_violations(browser)
