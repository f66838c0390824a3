"""Public pages: a customer opens their delivered §1798.83 notice through the signed link in the email."""

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from . import services
from .models import DisclosureNoticeRequest
from .notice import CONTENT_TYPES, NoticeContent, render


def notice_response(
    request_row: DisclosureNoticeRequest, fmt: str, *, download: bool = False
) -> HttpResponse:
    """The notice exactly as it was sent (re-typeset from its recorded statement)."""
    content = NoticeContent.from_statement(request_row.statement)
    response = HttpResponse(render(content, fmt), content_type=CONTENT_TYPES[fmt])
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="notice-1798-83-{request_row.year}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def notice(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    if fmt not in CONTENT_TYPES:
        raise Http404
    try:
        public_id = services.notice_link_open(token)
    except signing.BadSignature as exc:  # forged or expired (SignatureExpired is a BadSignature)
        raise Http404 from exc
    row = get_object_or_404(DisclosureNoticeRequest, public_id=public_id)
    # No audit row here: a GET has no side effects. Mail scanners fetch every link in a message, so an
    # "opened" event per GET would record views that never happened (issue 15 item 9).
    return notice_response(row, fmt)
