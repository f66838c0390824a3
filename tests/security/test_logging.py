"""Personal data never reaches a log handler: the redaction filter scrubs emails, phones and IPs."""

import logging

import pytest

from privacyops.logging import RedactPersonalData, redact


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mail jane.doe+x@example.co.uk now", "mail [email] now"),
        ("call +1 (415) 555-0199 today", "call [phone] today"),
        ("from 203.0.113.7 via 2001:db8::1", "from [ip] via [ip]"),
        ("case 42 moved to completed", "case 42 moved to completed"),
        ("at 2026-11-25 17:31:00 took 0.53 s", "at 2026-11-25 17:31:00 took 0.53 s"),
        # Celery task ids: a UUID whose first segment is all digits is not a phone number.
        (
            "Task x[12345678-00e1-4d15-a6aa-3393ca7af380] ok",
            "Task x[12345678-00e1-4d15-a6aa-3393ca7af380] ok",
        ),
        ("call 415-555-0199.", "call [phone]."),
    ],
)
def test_redact_replaces_personal_data_and_keeps_ids_and_dates(raw, expected):
    assert redact(raw) == expected


def test_filter_scrubs_message_arguments_and_exception_text():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "user %s failed from %s", ("a@b.example", "10.0.0.1"), None
    )
    try:
        raise ValueError("bad address a@b.example")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactPersonalData().filter(record) is True
    assert record.getMessage() == "user [email] failed from [ip]"
    assert "a@b.example" not in record.exc_text and "[email]" in record.exc_text


def test_project_logging_config_attaches_the_filter_to_every_handler():
    from django.conf import settings

    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name
