"""The privacy center in headless Chromium: from the emailed link to a changed preference; axe-clean."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from consent.selectors import consent_is_current
from tests.browser.conftest import axe_check, screenshot
from tests.browser.waits import WebDriverWait
from tests.consent.factories import grant
from tests.factories import DataSubjectFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_from_email_link_to_a_changed_preference(browser, settings):
    settings.SITE_URL = browser.live_server_url
    person = DataSubjectFactory(email="grace@example.com")
    grant(person, "marketing_email")

    browser.get(browser.live_server_url + reverse("privacycenter:ask"))
    assert axe_check(browser) == []
    browser.find_element(By.ID, "email").send_keys("grace@example.com")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(
        EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Check your email")
    )

    link = re.search(r"https?://\S+/privacycenter/enter/\S+/", mail.outbox[-1].body).group(0)
    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(
        EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Your privacy center")
    )
    screenshot(browser, "privacy-center")
    assert axe_check(browser) == []

    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Switch off: Marketing emails']").click()
    WebDriverWait(browser, 15).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=status]"), "Your choice is saved.")
    )
    assert not consent_is_current(subject_id=person.pk, purpose="marketing_email")
    assert browser.find_elements(By.CSS_SELECTOR, "button[aria-label='Allow: Marketing emails']")
