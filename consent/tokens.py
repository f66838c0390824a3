"""Signed unsubscribe tokens: who (the subject's public UUID) and for which purpose, with a timestamp.

Signed with SECRET_KEY and a dedicated salt (django.core.signing), so a token can't be forged or
reused for another purpose; it expires after conf.unsubscribe_max_age() (400 days by default,
beyond CAN-SPAM's 30-day minimum). No sequential id or email address appears in the link.
"""

import uuid
from dataclasses import dataclass
from urllib.parse import urljoin

from django.core import signing
from django.urls import reverse

from . import conf

SALT = "privacyops.consent.unsubscribe.v1"


class InvalidToken(Exception):
    """The token was tampered with, forged, or is not a token at all."""


class ExpiredToken(InvalidToken):
    """The token was genuine but is older than the maximum age."""


@dataclass(frozen=True)
class UnsubscribeClaim:
    subject_public_id: uuid.UUID
    purpose: str


def make_token(*, subject_public_id: uuid.UUID | str, purpose: str) -> str:
    return signing.dumps({"s": str(subject_public_id), "p": purpose}, salt=SALT, compress=True)


def read_token(token: str) -> UnsubscribeClaim:
    try:
        data = signing.loads(token, salt=SALT, max_age=conf.unsubscribe_max_age())
    except signing.SignatureExpired as exc:
        raise ExpiredToken() from exc
    except signing.BadSignature as exc:
        raise InvalidToken() from exc
    try:
        return UnsubscribeClaim(subject_public_id=uuid.UUID(data["s"]), purpose=str(data["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken() from exc


def unsubscribe_path(*, subject_public_id: uuid.UUID | str, purpose: str) -> str:
    return reverse(
        "consent:unsubscribe", args=[make_token(subject_public_id=subject_public_id, purpose=purpose)]
    )


def unsubscribe_url(*, subject_public_id: uuid.UUID | str, purpose: str) -> str:
    """Absolute link for emails (the SITE_URL setting), used in the body and the List-Unsubscribe header."""
    return urljoin(
        conf.site_url() + "/",
        unsubscribe_path(subject_public_id=subject_public_id, purpose=purpose).lstrip("/"),
    )
