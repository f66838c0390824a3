"""A logging filter that redacts personal data before any handler writes a record.

Code must not log personal data in the first place (log ids); this filter is the safety net for
third-party libraries and mistakes: email addresses, telephone numbers and IP addresses in the
message, its arguments and exception text are replaced by placeholders.
"""

import logging
import re

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
IPV6 = re.compile(
    r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"  # full form
    r"|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?\b"  # compressed "::"
)
# International or North-American style numbers with at least 7 digits, separators allowed. Not a run
# of digits glued to a dash on either side (a UUID's segment, as in Celery task ids) nor part of a
# decimal number; a full stop ending a sentence may follow.
PHONE = re.compile(r"(?<![\w.\-])(?!\d{4}-\d\d-\d\d)\+?\(?\d(?:[\s().\-]{0,2}\d){6,14}(?![\w\-]|\.\d)")


def redact(text: str) -> str:
    text = EMAIL.sub("[email]", text)
    text = IPV6.sub("[ip]", text)
    text = IPV4.sub("[ip]", text)
    return PHONE.sub("[phone]", text)


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template only
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
