"""Officer and analyst journeys in the admin, in headless Chromium (issue 16):

- retention: the officer reads the dry run (minors included), presses "Sweep now", confirms the count, and
  the sweep's erasure certificate opens with exactly that many records erased;
- §1798.83: an analyst (read-only staff, the "Analyst" group) opens a customer's notice as HTML, fetches it
  as PDF, and runs the bulk export from the admin; the CSV's rows are the logged disclosures.

Celery runs eagerly in the live server's thread. A failing journey leaves a screenshot in
tests/browser/screenshots/.
"""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from disclosures.exports import CSV_HEADER
from retention.dry_run import sweep_dry_run
from retention.models import SweepRun
from tests.browser.test_officer_workspace import PASSWORD, no_serious_violations, officer, sign_in  # noqa: F401
from tests.browser.waits import WebDriverWait
from tests.disclosures.factories import MarketingPartnerFactory, customers, log
from tests.factories import make_full_subject
from tests.retention import factories as f

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # export files


@pytest.fixture
def analyst(django_user_model, settings):
    settings.OTP_ADMIN_REQUIRED = False
    user = django_user_model.objects.create_user(
        username="andy", password=PASSWORD, email="andy@example.com", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Analyst"))
    return user


def wait_for_url(browser, part: str, what: str, timeout: int = 20) -> None:
    WebDriverWait(browser, timeout).until(lambda d: part in d.current_url, f"{what} did not open")


def fetch(browser, url: str) -> tuple[int, str, str]:
    """GET a URL with the page's session, as a link would; (status, content type, body as Latin-1 text)."""
    return browser.execute_async_script(
        "const done = arguments[1];"
        "fetch(arguments[0], {credentials: 'same-origin'})"
        ".then(async r => { const bytes = new Uint8Array(await r.arrayBuffer()); let s = '';"
        " for (const b of bytes) s += String.fromCharCode(b);"
        " done([r.status, r.headers.get('content-type'), s]); })"
        ".catch(e => done([0, String(e), '']));",
        url,
    )


def test_dry_run_then_sweep_now_with_the_count_confirmed_issues_the_certificate(browser, officer):  # noqa: F811
    make_full_subject(email="minor@example.com", is_minor=True)
    f.activity(f.subject(), f.ago(days=900))
    expected = sweep_dry_run()
    assert expected.minors_would_erase > 0 and expected.records_would_erase > 0

    sign_in(browser, officer)
    browser.get(browser.live_server_url + reverse("admin:retention_sweeprun_changelist"))
    # (object-tools links are upper-cased by the admin's CSS: found by their address, not their text)
    browser.find_element(By.CSS_SELECTOR, ".object-tools a[href$='/sweeprun/preview/']").click()
    wait_for_url(browser, "/sweeprun/preview/", "the dry run")
    figures = browser.find_element(By.ID, "content").text
    match = re.search(
        r"would erase (\d+) records?: (\d+) expired under the schedules and (\d+) of (\d+) minor", figures
    )
    assert match, figures
    would_erase, expired, minors_records, minors = map(int, match.groups())
    assert (would_erase, expired, minors_records, minors) == (
        expected.would_erase,
        expected.records_would_erase,
        expected.minors_would_erase,
        1,
    )
    assert not SweepRun.objects.exists()  # a dry run changes nothing
    no_serious_violations(browser)

    browser.back()
    wait_for_url(browser, "/sweeprun/", "the sweep list")
    browser.find_element(By.XPATH, "//button[normalize-space()='Sweep now']").click()
    wait_for_url(browser, "/sweeprun/sweep-now/", "the confirmation")
    confirm = browser.find_element(By.CSS_SELECTOR, "#content form input[type=submit]")
    assert confirm.get_attribute("value") == f"Yes, erase {would_erase} records now"
    assert not SweepRun.objects.exists()  # asking is not sweeping
    confirm.click()
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.current_url.split("?")[0].endswith("/sweeprun/")
            and d.find_elements(By.CSS_SELECTOR, ".messagelist")
        ),
        "the sweep was not queued",
    )
    assert f"confirmed: {would_erase} records" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    run = SweepRun.objects.get()
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    wait_for_url(browser, f"/sweeprun/{run.pk}/", "the sweep run")
    browser.find_element(By.LINK_TEXT, str(SweepRun.objects.get().certificate.public_id)[:8]).click()
    wait_for_url(browser, "/erasurecertificate/", "the certificate")
    browser.find_element(By.LINK_TEXT, "HTML (print)").click()
    WebDriverWait(browser, 10).until(
        lambda d: [h.text for h in d.find_elements(By.TAG_NAME, "h1")] == ["Erasure certificate"],
        "the printable certificate did not open",
    )
    erased = browser.find_element(By.XPATH, "//th[normalize-space()='Records erased']/following-sibling::td")
    assert int(erased.text.replace(",", "")) == would_erase


def test_an_analyst_reads_a_1798_83_notice_as_html_and_pdf_and_exports_the_log_as_csv(browser, analyst):
    ada, bob = customers(2)
    partner = MarketingPartnerFactory(legal_name="Catalogue Partner Inc.")
    other = MarketingPartnerFactory(legal_name="Mailing List Co.")
    log(ada, partner, "email", "telephone_number")
    log(bob, other, "email")
    sign_in(browser, analyst)

    browser.get(browser.live_server_url + reverse("admin:disclosures_notice_preview"))
    browser.find_element(By.ID, "id_subject").send_keys(ada.email)
    year = browser.find_element(By.ID, "id_year")
    year.clear()
    year.send_keys("2025")
    Select(browser.find_element(By.ID, "id_format")).select_by_value("html")
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()
    WebDriverWait(browser, 15).until(lambda d: "Catalogue Partner Inc." in d.page_source, "no notice shown")
    assert "Mailing List Co." not in browser.page_source  # ada's notice, not bob's
    status, content_type, body = fetch(browser, browser.current_url.replace("format=html", "format=pdf"))
    assert (status, content_type, body[:5]) == (200, "application/pdf", "%PDF-")

    browser.get(browser.live_server_url + reverse("admin:disclosures_disclosureexport_changelist"))
    browser.find_element(By.CSS_SELECTOR, ".object-tools a[href$='/disclosureexport/new/']").click()
    wait_for_url(browser, "/disclosureexport/new/", "the export form")
    year = browser.find_element(By.ID, "id_year")
    year.clear()
    year.send_keys("2025")
    Select(browser.find_element(By.ID, "id_format")).select_by_value("csv")
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.current_url.split("?")[0].endswith("/disclosureexport/")
            and d.find_elements(By.LINK_TEXT, "Download")
        ),
        "the export is not offered for download",
    )
    status, content_type, body = fetch(
        browser, browser.find_element(By.LINK_TEXT, "Download").get_attribute("href")
    )
    assert status == 200 and content_type.startswith("text/csv"), content_type
    rows = list(csv.reader(io.StringIO(body.encode("latin-1").decode("utf-8"))))
    assert rows[0] == CSV_HEADER
    got = {(r[0], r[1], r[3], r[5]) for r in rows[1:]}
    assert got == {
        (str(ada.public_id), "2025", "Catalogue Partner Inc.", "email"),
        (str(ada.public_id), "2025", "Catalogue Partner Inc.", "telephone_number"),
        (str(bob.public_id), "2025", "Mailing List Co.", "email"),
    }
    assert len(rows) == 4
