"""A logging filter that redacts personal data before any handler writes a record.

Code must not log personal data in the first place (log ids); this filter is the safety net for
third-party libraries and mistakes: email addresses (also URL-encoded, `%40`), signed tokens (the
links in request paths: verification, status, download, unsubscribe, notices), telephone numbers and
IP addresses in the message, its arguments and exception text are replaced by placeholders. The
development server's and gunicorn's access logs go through it too (settings.LOGGING, gunicorn.conf.py).
"""

import logging
import re

# "@" also URL-encoded once or twice (%40, %2540), as it appears in query strings and paths.
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40|%2540)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", re.IGNORECASE)
# django.core.signing tokens: payload (compressed ones start with "."), then ":timestamp" (dumps) and a
# base64 signature of 27+ characters; the colons may arrive URL-encoded (%3A).
SIGNED_TOKEN = re.compile(r"[\w.\-]+(?:(?::|%3A)[\w\-]+){1,2}(?::|%3A)[\w\-]{27,}", re.IGNORECASE)
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
    text = SIGNED_TOKEN.sub("[token]", text)
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
