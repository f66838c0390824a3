"""Access logs of a whole request flow carry no address (even URL-encoded) and no signed link (item 8).

The flow is driven through the public pages with the test client; every path it visited is then written
the way the development server (logger `django.server`, configured by settings.LOGGING) and gunicorn
(privacyops.gunicorn_logging.RedactingLogger, selected by gunicorn.conf.py) write their access lines.
"""

import io
import logging
import re
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core import mail
from gunicorn.config import Config

from notices.models import Notice
from privacyops.gunicorn_logging import RedactingLogger
from privacyops.logging import RedactPersonalData, redact

EMAIL = "jane.roe+dsar@example.org"
LINK = re.compile(r"https?://[^/\s]+(/\S+/)")


def _flow_paths(client, capture) -> list[str]:
    """Intake, then the status, verification and download-style links the person receives."""
    paths = [f"/requests/new/?email={quote(EMAIL)}"]
    with capture(execute=True):
        response = client.post(
            "/requests/new/",
            {
                "request_type": "access",
                "regime": "gdpr",
                "subject_email": EMAIL,
                "subject_name": "Jane Roe",
                "requester_kind": "subject",
            },
        )
    assert response.status_code == 302
    paths.append(response["Location"].split("8000", 1)[-1])
    for body in Notice.objects.values_list("body_text", flat=True):
        paths.extend(LINK.findall(body or ""))
    for message in mail.outbox:
        paths.extend(LINK.findall(message.body))
    for path in list(paths[1:]):
        assert client.get(path).status_code in (200, 302, 410)
    paths.append(f"/consent/unsubscribe/x/?e={EMAIL.replace('@', '%40')}")
    paths.append(f"/api/consent/events/?email={EMAIL.replace('@', '%2540')}")
    return paths


def _runserver_lines(paths: list[str]) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("django.server")
    handlers = [h for h in logger.handlers if any(isinstance(f, RedactPersonalData) for f in h.filters)]
    assert handlers, "django.server logs through settings.LOGGING's console handler"
    old = [h.setStream(stream) for h in handlers]
    try:
        for path in paths:  # what django.core.servers.basehttp.WSGIRequestHandler.log_message writes
            logger.info('"%s" %s %s', f"GET {path} HTTP/1.1", "200", "512")
    finally:
        for handler, previous in zip(handlers, old, strict=True):
            handler.setStream(previous)
    return stream.getvalue()


def _gunicorn_lines(paths: list[str], tmp_path) -> str:
    cfg = Config()
    log_file = tmp_path / "access.log"
    cfg.set("accesslog", str(log_file))
    glog = RedactingLogger(cfg)
    for path in paths:
        route, _, query = path.partition("?")
        req = SimpleNamespace(headers=[], method="GET", path=route, query=query, uri=path, version=(1, 1))
        resp = SimpleNamespace(status="200 OK", headers=[], sent=512, response_length=512)
        environ = {
            "REMOTE_ADDR": "203.0.113.9",
            "REQUEST_METHOD": "GET",
            "RAW_URI": path,
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        glog.access(resp, req, environ, __import__("datetime").timedelta(seconds=0.01))
    for handler in glog.access_log.handlers:
        handler.flush()
    return log_file.read_text()


@pytest.mark.django_db
def test_a_full_request_flow_leaves_no_address_or_signed_link_in_access_logs(
    client, tmp_path, django_capture_on_commit_callbacks
):
    paths = _flow_paths(client, django_capture_on_commit_callbacks)
    signed = [p for p in paths if re.search(r":[\w\-]{27,}", p)]
    assert len(signed) >= 3, paths  # the status link, the verification link and the one in the e-mail
    encoded = [p for p in paths if "%40" in p or "%2540" in p]
    assert len(encoded) == 3
    for lines in (_runserver_lines(paths), _gunicorn_lines(paths, tmp_path)):
        assert len(lines.strip().splitlines()) == len(paths)
        assert "example.org" not in lines
        assert not re.search(r":[\w\-]{27,}", lines), lines
        assert lines.count("[token]") >= len(signed)
        assert lines.count("[email]") == len(encoded)
        assert "203.0.113.9" not in lines


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GET /?e=jane%40example.com", "GET /?e=[email]"),
        ("GET /?e=JANE%2540EXAMPLE.COM", "GET /?e=[email]"),
        (
            "GET /requests/verify/eyJuIjoiYWJjIn0:1xZ93l:xtZPDfNAxks1gi90m3UyCU91PElQ5IZwyauiL8NcSqc/",
            "GET /requests/verify/[token]/",
        ),
        (
            "GET /consent/unsubscribe/.eJyrVkrOz0vPTNGxUrI0MDBQ:1xZ93l%3Axtxks1gi90m3UyCU91PElQ5IZwyauiL8NcSqc/",
            "GET /consent/unsubscribe/[token]/",
        ),
        ("task 12345:1xZ93l:ldm2Q0M8U8becj11lFUwxCczmU4w8fHt2VzmB15KxCY", "task [token]"),
        ("at 2026-11-25 17:31:00 took 0.53 s", "at 2026-11-25 17:31:00 took 0.53 s"),
    ],
)
def test_redact_covers_url_encoded_addresses_and_signed_tokens(raw, expected):
    assert redact(raw) == expected
