"""The case page's "Other systems" panel in headless Chromium: one system done, one failed with its error;
the Retry button re-runs the failed one (eager Celery inside the live server) and the panel shows it done."""

from pathlib import Path

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from connectors import http
from connectors.models import SystemRun
from connectors.services import case_systems_plan, connection_save
from inventory.models import System
from requests_app.models import RequestType
from tests.browser.test_officer_workspace import officer, sign_in  # noqa: F401 (fixture)
from tests.browser.waits import WebDriverWait
from tests.connectors import fake_apis
from tests.requests_app.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SHIPPED = Path(http.__file__).parent / "shipped"


@pytest.fixture
def api():
    server, state, base = fake_apis.start()
    yield state, base
    server.shutdown()
    server.server_close()


def _system(code, secrets):
    system = System.objects.create(code=code, name=code.title(), kind="external", owner="Marketing")
    # No in-request retries: the queued fault fails the run at once.
    config = (SHIPPED / f"{code}.yml").read_text() + "\nretries: 0\nretry_base_seconds: 0\n"
    connection_save(system=system, kind="http", config=config, secrets=secrets, actor="test")
    return system


def _row(browser, code):
    return browser.find_element(By.CSS_SELECTOR, f'#case-systems tr.system-run[data-system="{code}"]')


def test_the_panel_shows_done_and_failed_and_retry_makes_the_failed_system_done(browser, officer, api):  # noqa: F811
    state, base = api
    state.add_member("jane@example.com", FNAME="Jane")
    state.add_contact("101", "jane@example.com", firstname="Jane")
    mailchimp = _system("mailchimp", {"api_key": fake_apis.MAILCHIMP_KEY, "list_id": "L1",
                                      "data_center": "us1", "base_url": f"{base}/3.0"})  # fmt: skip
    hubspot = _system("hubspot", {"private_app_token": fake_apis.HUBSPOT_TOKEN, "subscription_id": "S9",
                                  "base_url": base})  # fmt: skip
    state.fault("/crm/", 500)  # HubSpot's first answer only
    case = make_case(request_type=RequestType.ACCESS)
    case_systems_plan(
        case_id=case.pk,
        action="access",
        identities={"email": ["jane@example.com"]},
        systems=[mailchimp, hubspot],
    )  # fmt: skip  (runs on commit, eager Celery)
    assert dict(SystemRun.objects.filter(case_id=case.pk).values_list("system__code", "status")) == {
        "mailchimp": "done", "hubspot": "failed"}  # fmt: skip

    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:requests_app_privacyrequest_change", args=[case.pk]))
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "case-systems"), "no systems panel")
    done, failed = _row(browser, "mailchimp"), _row(browser, "hubspot")
    assert done.get_attribute("data-status") == "done" and "done" in done.text
    assert failed.get_attribute("data-status") == "failed"
    assert "HttpError" in failed.text and "HTTP 500 after 1 attempt(s)" in failed.text
    assert not done.find_elements(By.XPATH, ".//button[normalize-space()='Retry']")

    retry = failed.find_element(By.XPATH, ".//button[normalize-space()='Retry']")
    retry.click()
    # The POST redirects back to the case page: wait for the old page to go, then for the new panel.
    WebDriverWait(browser, 15).until(EC.staleness_of(retry), "the retry did not navigate")
    WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#case-systems tr.system-run[data-system="hubspot"]'),
        "the case page did not come back",
    )
    row = _row(browser, "hubspot")
    assert row.get_attribute("data-status") == "done", row.text
    assert "HttpError" not in row.text and not row.find_elements(
        By.XPATH, ".//button[normalize-space()='Retry']"
    )
    assert "Retry queued." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert _row(browser, "mailchimp").get_attribute("data-status") == "done"
    assert SystemRun.objects.get(case_id=case.pk, system=hubspot).attempts == 2
