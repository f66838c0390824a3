"""Privacy requests end to end in headless Chromium (issue 16), each as the people involved use the pages:

- access: the requester fills in the public form, confirms with the link the app emailed, the officer
  previews and approves the release on the case page, and the emailed download link returns the package;
- erasure: the officer verifies and fulfils an erasure case from the case page's actions; the subject's
  records are gone and the suppression list in the admin shows the keyed hash of the address.

Celery runs eagerly in the live server's thread (as in tests and `make run`); mail goes to Django's locmem
outbox, which is what the app's delivery service actually sent. A failing journey leaves a screenshot in
tests/browser/screenshots/.
"""

import base64
import io
import re
import zipfile

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from consent.models import SuppressedAddress
from consent.suppression import email_hmac
from inventory import models as inv
from inventory.models import DataSubject
from requests_app.models import PrivacyRequest, Regime, RequestType, Status
from tests.browser.test_officer_workspace import no_serious_violations, officer, sign_in  # noqa: F401
from tests.browser.waits import WebDriverWait
from tests.factories import make_full_subject
from tests.requests_app.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _site(browser, settings, tmp_path):
    """Links in the emails point at the live server; packages are written to a scratch media root."""
    settings.SITE_URL = browser.live_server_url
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # the public form's rate limit counts per client in the cache


def wait_for_text(browser, css: str, text: str, timeout: int = 20) -> None:
    WebDriverWait(browser, timeout).until(
        lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css)),
        f"{text!r} did not appear in {css}",
    )


def emailed_link(route: str) -> str:
    """The last link to this public route (e.g. "requests_app:verify") in the mail the app sent."""
    prefix = reverse(route, args=["TOKEN"]).split("TOKEN")[0]
    links = [
        m for msg in mail.outbox for m in re.findall(rf"https?://[^\s\"<>]+{prefix}[^\s\"<>/]+/", msg.body)
    ]
    assert links, f"no {route} link in the {len(mail.outbox)} message(s) sent"
    return links[-1]


def open_case_by_email(browser, email: str, case: PrivacyRequest) -> None:
    """The officer finds the case in the case list by the subject's address and opens it."""
    browser.get(browser.live_server_url + reverse("admin:requests_app_privacyrequest_changelist"))
    box = browser.find_element(By.ID, "searchbar")
    box.send_keys(email)
    box.submit()
    WebDriverWait(browser, 10).until(lambda d: "q=" in d.current_url, "the search did not run")
    browser.find_element(By.LINK_TEXT, str(case.reference)[:8]).click()
    WebDriverWait(browser, 10).until(
        lambda d: f"/privacyrequest/{case.pk}/change/" in d.current_url, "the case page did not open"
    )


def case_action(browser, label: str, case: PrivacyRequest) -> None:
    """Click one of the case page's action buttons and wait for its page."""
    browser.find_element(By.CSS_SELECTOR, "#case-actions").find_element(By.LINK_TEXT, label).click()
    WebDriverWait(browser, 10).until(lambda d: f"/{case.pk}/act/" in d.current_url, f"{label!r} did not open")


def confirm_and_return(browser, case: PrivacyRequest) -> None:
    browser.find_element(By.CSS_SELECTOR, "#content form input[type=submit]").click()
    WebDriverWait(browser, 30).until(
        lambda d: d.current_url.split("?")[0].endswith(f"/privacyrequest/{case.pk}/change/"),
        "the action did not come back to the case page",
    )


def download_package(browser) -> tuple[str, bytes]:
    """Press the download page's button the way the form does (POST with its CSRF token) and read the reply."""
    result = browser.execute_async_script(
        "const done = arguments[0]; const form = document.querySelector('main form, form');"
        "fetch(location.href, {method: 'POST', body: new FormData(form), credentials: 'same-origin'})"
        ".then(async r => { const bytes = new Uint8Array(await r.arrayBuffer()); let s = '';"
        " for (const b of bytes) s += String.fromCharCode(b);"
        " done([r.status, r.headers.get('content-type'), btoa(s)]); })"
        ".catch(e => done([0, String(e), '']));"
    )
    status, content_type, body = result
    assert status == 200, (status, content_type)
    return content_type, base64.b64decode(body)


def test_public_access_request_verified_approved_and_downloaded(browser, officer, release_approval):  # noqa: F811
    subject = make_full_subject(email="grace.hopper@example.com", name="Grace Hopper")

    # The requester: the public form, then the confirmation link from the email.
    browser.get(browser.live_server_url + reverse("requests_app:intake"))
    Select(browser.find_element(By.ID, "id_request_type")).select_by_value(RequestType.ACCESS)
    Select(browser.find_element(By.ID, "id_regime")).select_by_value(Regime.GDPR)
    browser.find_element(By.ID, "id_subject_email").send_keys("grace.hopper@example.com")
    browser.find_element(By.ID, "id_subject_name").send_keys("Grace Hopper")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit], form button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: "/requests/status/" in d.current_url, "no status page")
    case = PrivacyRequest.objects.get(subject=subject)
    assert case.status == Status.VERIFYING

    browser.get(emailed_link("requests_app:verify"))
    wait_for_text(browser, "h1", "Confirm your request")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for_text(browser, "h1", "you are confirmed")
    case.refresh_from_db()
    assert case.status == Status.AWAITING_APPROVAL  # built, and held for the officer
    assert not [m for m in mail.outbox if "/requests/download/" in m.body]  # nothing left the building

    # The officer: the case, the preview, the approval.
    sign_in(browser, officer)
    open_case_by_email(browser, "grace.hopper@example.com", case)
    case_action(browser, "Preview and approve the release", case)
    preview = browser.find_element(By.ID, "release-preview").text
    assert "What will be sent" in preview and "grace.hopper@example.com" in preview
    confirm_and_return(browser, case)
    wait_for_text(browser, ".messagelist", "Release approved")
    case.refresh_from_db()
    assert case.status == Status.COMPLETED

    # The requester again: the emailed download link returns the package.
    browser.delete_all_cookies()
    browser.get(emailed_link("requests_app:download"))
    wait_for_text(browser, "h1", "Download your data")
    content_type, data = download_package(browser)
    assert content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        text = "\n".join(package.read(name).decode("utf-8", "replace") for name in package.namelist())
    assert "alt.grace.hopper@example.com" in text and "Acme Corp" in text  # the subject's own records


def test_an_officer_completes_an_erasure_and_the_suppression_list_keeps_a_keyed_hash(browser, officer):  # noqa: F811
    subject = make_full_subject(email="ada.lovelace@example.com", name="Ada Lovelace")
    other = make_full_subject(email="charles.babbage@example.com")
    case = make_case(request_type=RequestType.ERASURE, subject_email="ada.lovelace@example.com")
    assert inv.ContactPoint.objects.filter(subject=subject).exists()

    sign_in(browser, officer)
    open_case_by_email(browser, "ada.lovelace@example.com", case)
    case_action(browser, "Record manual verification", case)
    Select(browser.find_element(By.ID, "id_method")).select_by_value("phone")
    Select(browser.find_element(By.ID, "id_level")).select_by_value("high")
    browser.find_element(By.ID, "id_reason").send_keys("Called back on the number on file; 3 points matched")
    confirm_and_return(browser, case)
    wait_for_text(browser, ".messagelist", "Verification recorded")
    assert PrivacyRequest.objects.get(pk=case.pk).status == Status.IN_PROGRESS

    case_action(browser, "Fulfil", case)
    confirm_and_return(browser, case)
    wait_for_text(browser, "#case-header", "Completed")
    no_serious_violations(browser)

    subject.refresh_from_db()
    assert subject.erased_at is not None and subject.email == ""
    for model in (inv.ContactPoint, inv.UserAccount, inv.CompanyAffiliation, inv.MarketingPreference):
        assert not model.objects.filter(subject=subject).exists(), model.__name__
    assert inv.ContactPoint.objects.filter(subject=other).exists()  # only this subject
    assert DataSubject.objects.filter(email="ada.lovelace@example.com").count() == 0

    browser.get(browser.live_server_url + reverse("admin:consent_suppressedaddress_changelist"))
    box = browser.find_element(By.ID, "searchbar")
    box.send_keys("ada.lovelace@example.com")
    box.submit()
    WebDriverWait(browser, 10).until(lambda d: "q=" in d.current_url, "the search did not run")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    keyed = email_hmac("ada.lovelace@example.com")
    assert rows and all(keyed[:16] in row.text for row in rows)
    assert "Subject erased" in browser.find_element(By.ID, "result_list").text
    assert "ada.lovelace" not in browser.find_element(By.ID, "result_list").text  # a hash, not the address
    assert SuppressedAddress.objects.filter(email_hmac=keyed, reason="erased").exists()
