"""Issue 14 items 2 and 3: opted-out addresses are never transferred; consent is judged when disclosed.

CAN-SPAM 15 U.S.C. §7704(a)(4)(A)(iv) (no transfer after an opt-out, no grace period); Cal. Civ. Code
§1798.83(c)(2) (the opt-out blocks disclosures made after it, judged at the time of the disclosure).
"""

import io

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consent import services as consent_services
from disclosures import services
from disclosures.exports import export_csv
from disclosures.models import DisclosureEvent, Purpose
from disclosures.selectors import notice_content

from .factories import MarketingPartnerFactory, at, customers
from .test_api import URL

pytestmark = pytest.mark.django_db


def crm_client() -> APIClient:
    user = User.objects.create_user(username="crm-transfer", password="x" * 16)
    for codename in ("log_disclosures", "view_disclosurebatch"):
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="disclosures", codename=codename)
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _record(ids, tp, *, when=None, **kwargs):
    return services.disclosure_batch_record(
        third_party_id=tp.pk,
        purpose=kwargs.pop("purpose", Purpose.DIRECT_MARKETING),
        subject_ids=ids,
        statutory_categories=["email", "name_and_address"],
        disclosed_at=when or at(2025),
        actor="test",
        **kwargs,
    )


def _withdraw(subject, purpose, when):
    with time_machine.travel(when, tick=False):
        consent_services.consent_withdraw(subject_id=subject.pk, purpose=purpose, channel="email_link")


def _export_2025() -> str:
    from disclosures.selectors import business, third_party_cards

    out = io.BytesIO()
    export_csv(year=2025, out=out, cards=third_party_cards(), business=business())
    return out.getvalue().decode()


def test_an_address_that_unsubscribed_from_anything_is_never_transferred_whatever_the_route_setting():
    keep, unsubscribed = customers(2)
    _withdraw(unsubscribed, "marketing_email", at(2024))  # not the partner-sharing purpose
    from disclosures.selectors import disclosure_settings

    assert not disclosure_settings().opt_out_route_enabled
    partner = MarketingPartnerFactory()
    with pytest.raises(services.TransferAfterOptOut) as refused:
        _record([keep.pk, unsubscribed.pk], partner)
    assert refused.value.code == "can_spam_opted_out"
    assert "7704(a)(4)(A)(iv)" in refused.value.messages[0]
    assert refused.value.subject_ids == [unsubscribed.pk]
    assert not DisclosureEvent.objects.exists()

    result = _record([keep.pk, unsubscribed.pk], partner, exclude_opted_out=True)
    assert result.excluded_subject_ids == [unsubscribed.pk]
    assert list(DisclosureEvent.objects.values_list("subject_id", flat=True)) == [keep.pk]
    exported = _export_2025()
    assert str(keep.public_id) in exported and str(unsubscribed.public_id) not in exported

    # With the §1798.83(c)(2) route on, still refused, and for the CAN-SPAM reason.
    services.disclosure_settings_update(opt_out_route_enabled=True, actor="test")
    with pytest.raises(services.TransferAfterOptOut):
        _record([unsubscribed.pk], partner, when=at(2025, 7))


def test_a_suppressed_address_is_never_transferred():
    (person,) = customers(1, email="suppressed.person@example.com")
    with time_machine.travel(at(2024), tick=False):
        consent_services.suppression_add(email="suppressed.person@example.com", actor="test")
    with pytest.raises(services.TransferAfterOptOut):
        _record([person.pk], MarketingPartnerFactory())


def test_service_provision_is_not_a_transfer_for_the_recipients_marketing():
    (person,) = customers(1)
    _withdraw(person, "marketing_email", at(2024))
    from .factories import ServiceProviderFactory

    assert _record([person.pk], ServiceProviderFactory(), purpose=Purpose.SERVICE_PROVISION).created


def test_the_api_names_the_rule_and_the_subjects_refused():
    crm = crm_client()
    people = customers(2)
    _withdraw(people[1], "marketing_email", at(2024))
    payload = {
        "external_id": "crm-share-2025-09",
        "third_party": MarketingPartnerFactory().pk,
        "purpose": "direct_marketing",
        "disclosed_at": "2025-09-01T10:00:00Z",
        "data_categories": {"contact": ["email", "name"]},
        "subjects": [str(p.public_id) for p in people],
    }
    refused = crm.post(URL, payload, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "can_spam_opted_out"
    assert refused.json()["opted_out_subjects"] == [str(people[1].public_id)]
    assert isinstance(crm, APIClient)


def test_a_2025_disclosure_made_with_consent_and_logged_after_a_2026_opt_out_is_accepted():
    services.disclosure_settings_update(opt_out_route_enabled=True, actor="test")
    (person,) = customers(1)
    with time_machine.travel(at(2024), tick=False):
        consent_services.consent_grant(
            subject_id=person.pk, purpose="share_marketing_partners", channel="web_form"
        )
    _withdraw(person, "share_marketing_partners", at(2026, 2))
    _withdraw(person, "marketing_email", at(2026, 2))
    partner = MarketingPartnerFactory()
    with time_machine.travel(at(2026, 3), tick=False):
        result = _record([person.pk], partner, when=at(2025, 5))
        assert result.created and result.excluded_subject_ids == []
        # The same share made after the opt-out is refused.
        with pytest.raises(services.OptedOutSubjects):
            _record([person.pk], partner, when=at(2026, 2, 20))
    notice = notice_content(subject_id=person.pk, year=2025)
    assert "email" in notice.categories
    assert [line.name for line in notice.recipients] == [partner.legal_name]
