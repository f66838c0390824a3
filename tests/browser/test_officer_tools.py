"""More of the officer's journeys in headless Chromium (issue 16): a consent import with a bad line is
rejected with its line and a proper-case message; a notice template's preview opens; an erasure
certificate prints as HTML and downloads as PDF; axe-core finds no serious or critical violation (the
consent-import page included, before and after the rejection: its breadcrumb link is underlined by
privacyops/static/privacyops/admin.css, not told apart by colour alone)."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from consent.models import ConsentEvent
from notices.models import NoticeTemplate
from retention.services import erase_subject
from tests.browser.test_officer_workspace import no_serious_violations, officer, sign_in  # noqa: F401
from tests.browser.waits import WebDriverWait
from tests.factories import make_full_subject

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_consent_import_with_a_bad_line_is_rejected_with_its_line(browser, officer, tmp_path):  # noqa: F811
    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:consent_consentevent_import"))
    no_serious_violations(browser)
    csv = tmp_path / "optins.csv"
    csv.write_text(
        "email,purpose,action,at\n"
        "ann@example.com,marketing_email,grant,2024-05-01\n"
        "bob@example.com,marketing_email,grant,last tuesday\n"
    )
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(csv))
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()
    note = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, ".errornote"))
    assert "nothing was imported" in note.text
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "ISO 8601" in body and "2021-03-04T10:00:00Z" in body
    assert not ConsentEvent.objects.exists()
    no_serious_violations(browser)  # the rejection's error note and line table too


def test_template_preview_opens(browser, officer):  # noqa: F811
    template = NoticeTemplate.objects.filter(active=True).order_by("pk").first()
    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:notices_template_preview", args=[template.pk]))
    assert browser.find_element(By.TAG_NAME, "body").text.strip()
    assert "Does not render" not in browser.page_source


def test_erasure_certificate_prints_and_downloads(browser, officer):  # noqa: F811
    certificate = erase_subject(subject_id=make_full_subject().pk, reason="Erasure request")
    sign_in(browser, officer)
    browser.get(
        browser.live_server_url + reverse("admin:retention_erasurecertificate_change", args=[certificate.pk])
    )
    browser.find_element(By.LINK_TEXT, "HTML (print)").click()
    # The admin page also has an h1: wait for the certificate's own page, not any heading.
    WebDriverWait(browser, 10).until(
        lambda d: [h.text for h in d.find_elements(By.TAG_NAME, "h1")] == ["Erasure certificate"],
        "the printable certificate did not open",
    )
    assert "Records erased" in browser.find_element(By.TAG_NAME, "main").text
    no_serious_violations(browser)
    pdf = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.querySelector('a[href$=\"/pdf/\"]').href, {credentials: 'same-origin'})"
        ".then(r => r.arrayBuffer()).then(b => done(String.fromCharCode(...new Uint8Array(b).slice(0, 5))));"
    )
    assert pdf == "%PDF-"
