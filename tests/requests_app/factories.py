"""Cases for tests, opened through the intake service (so deadlines, events and notices are real)."""

import itertools

from requests_app.models import Channel, PrivacyRequest, Regime, RequestType
from requests_app.services import request_create

_seq = itertools.count(1)


def make_case(**overrides) -> PrivacyRequest:
    n = next(_seq)
    values = {
        "request_type": RequestType.ACCESS,
        "regime": Regime.GDPR,
        "channel": Channel.EMAIL,
        "subject_email": f"case{n}@example.com",
        "subject_name": f"Case Person {n}",
    }
    values.update(overrides)
    return request_create(**values)
