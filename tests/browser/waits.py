"""Waits that survive the page changing under them.

A condition that reads elements (`find_elements(...).text`) can run while a click's navigation is
replacing the page: the element it just found is gone and selenium raises StaleElementReferenceException.
That is "not yet", not a failure, so every wait in the browser suite polls again instead (this race
failed CI once). Import `WebDriverWait` from here, not from selenium.
"""

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait as SeleniumWait


class WebDriverWait(SeleniumWait):
    def __init__(self, driver, timeout: float, poll_frequency: float = 0.2, ignored_exceptions=None):
        ignored = (StaleElementReferenceException, *(ignored_exceptions or ()))
        super().__init__(driver, timeout, poll_frequency=poll_frequency, ignored_exceptions=ignored)
