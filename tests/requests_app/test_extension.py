"""Extensions: reason required, notice sent, only inside the first period, only once."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from requests_app import services
from requests_app.models import PrivacyRequest, Regime, RequestType

from .factories import make_case


def _at(y, m, d):
    return time_machine.travel(datetime(y, m, d, 10, 0, tzinfo=UTC), tick=False)


@pytest.mark.django_db
def test_gdpr_extension_inside_month_one_moves_due_to_three_months_and_tells_the_requester(officer, outbox):
    with _at(2026, 1, 31):
        case = make_case(regime=Regime.GDPR)
    with _at(2026, 2, 27):
        services.request_extend(case=case, reason="Records in four systems", actor=officer)
    case.refresh_from_db()
    assert (case.first_due_on, case.due_on) == (date(2026, 2, 28), date(2026, 4, 30))
    notice = outbox.last("deadline_extended")
    assert notice["context"]["new_due_on"] == "2026-04-30"
    assert notice["context"]["reasons"] == "Records in four systems"
    assert notice["context"]["original_due_on"] == "2026-02-28"
    assert case.events.filter(kind="extension").exists()


@pytest.mark.django_db
def test_extension_on_the_last_day_of_the_first_period_is_still_allowed(officer):
    with _at(2026, 3, 1):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)  # due 15 April
    with _at(2026, 4, 15):
        services.request_extend(case=case, reason="Complex", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).due_on == date(2026, 5, 30)


@pytest.mark.django_db
def test_extension_after_the_first_period_is_refused(officer, outbox):
    with _at(2026, 3, 1):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)
    with _at(2026, 4, 16), pytest.raises(ValidationError, match="Too late"):
        services.request_extend(case=case, reason="Complex", actor=officer)
    assert "deadline_extended" not in outbox.kinds()


@pytest.mark.django_db
def test_ccpa_extends_only_once(officer):
    case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)
    services.request_extend(case=case, reason="Complex", actor=officer)
    with pytest.raises(ValidationError, match="already extended"):
        services.request_extend(case=case, reason="Again", actor=officer)


@pytest.mark.django_db
def test_extension_needs_a_reason(officer):
    case = make_case()
    with pytest.raises(ValidationError):
        services.request_extend(case=case, reason=" ", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).extended_at is None


@pytest.mark.django_db
def test_regimes_without_extension_refuse_it(officer):
    case = make_case(regime=Regime.COPPA, request_type=RequestType.ERASURE)
    with pytest.raises(ValidationError, match="allows no extension"):
        services.request_extend(case=case, reason="busy", actor=officer)


@pytest.mark.django_db
def test_extension_counts_from_the_business_receipt_date_not_utcs(officer):
    """Received 18:00 Pacific on 28 February (1 March in UTC): 45 + 45 days from 28 February is 29 May."""
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)
    assert case.first_due_on == date(2026, 4, 14)
    with _at(2026, 4, 10):
        services.request_extend(case=case, reason="Complex", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).due_on == date(2026, 5, 29)


@pytest.mark.django_db
def test_extension_on_the_last_business_day_is_allowed_after_utc_midnight(officer):
    """20:00 Pacific on 14 April, the last day of the first period, is already 15 April in UTC."""
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        case = make_case(regime=Regime.CCPA, request_type=RequestType.ERASURE)  # due 14 April
    with time_machine.travel(datetime(2026, 4, 15, 3, 0, tzinfo=UTC), tick=False):
        services.request_extend(case=case, reason="Complex", actor=officer)
    assert PrivacyRequest.objects.get(pk=case.pk).extended_at is not None
