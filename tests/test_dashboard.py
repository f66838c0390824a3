"""The admin index tells the truth (issue 16): every figure that counts rows links to exactly the filtered
list it counts (the figure equals that list's count), and the §1798.83 card shows the year whose notices
are due now (the preceding calendar year)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone

from consent.services import consent_grant, consent_withdraw
from disclosures import rules as disclosure_rules
from notices.services import breach_record
from privacyops.dashboard import collect_cards
from requests_app import deadlines
from requests_app.models import PrivacyRequest, RequestType
from retention.services import legal_hold_place
from tests.disclosures.factories import MarketingPartnerFactory, log
from tests.factories import DataSubjectFactory
from tests.requests_app.factories import make_case

# Figures that are not a count of a list's rows: a status, a median, a run's result, and the inventory's
# per-category record counts (they add up several models' tables, so no one list shows them).
NOT_A_LIST_COUNT = re.compile(r"^(§1798\.83 notices|Median days|Last retention sweep)")


def _officer(django_user_model):
    user = django_user_model.objects.create_superuser(
        username="boss", password="x" * 16, email="b@example.com"
    )
    user.groups.add(*Group.objects.all())
    return user


def _seed() -> None:
    """A little of everything the cards count, including rows each card must NOT count."""
    cache.clear()  # the inventory cards are cached for a minute
    now = timezone.now()
    overdue = make_case(request_type=RequestType.ERASURE)
    PrivacyRequest.objects.filter(pk=overdue.pk).update(due_on=deadlines.business_today() - timedelta(days=2))
    soon = make_case()
    PrivacyRequest.objects.filter(pk=soon.pk).update(due_on=deadlines.business_today() + timedelta(days=2))
    make_case()
    people = [DataSubjectFactory() for _ in range(3)]
    with time_machine.travel(now - timedelta(days=2)):
        consent_grant(subject_id=people[0].pk, purpose="marketing_email", channel="web_form")
        consent_withdraw(subject_id=people[0].pk, purpose="marketing_email", channel="email_link")
    consent_grant(subject_id=people[1].pk, purpose="marketing_email", channel="web_form")
    consent_withdraw(subject_id=people[1].pk, purpose="marketing_email", channel="email_link")
    partner = MarketingPartnerFactory()
    this_year = disclosure_rules.year_of(now)
    # Customers who never opted out: an address that did is never transferred for marketing (CAN-SPAM).
    buyers = [DataSubjectFactory() for _ in range(3)]
    log(buyers, partner, "email", when=now - timedelta(minutes=5))  # this year: not due in notices yet
    log(buyers[:2], partner, "email", when=datetime(this_year - 1, 6, 1, tzinfo=UTC))
    log(buyers[:1], partner, "email", when=datetime(this_year - 2, 6, 1, tzinfo=UTC))
    legal_hold_place(subject_id=people[2].pk, reason="Litigation", owner="legal")
    breach_record(
        title="Lost laptop", what_happened="A laptop was stolen.", discovered_at=now - timedelta(hours=3)
    )


def _list_count(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.get("Location"))
    return response.context["cl"].result_count


def _as_int(value) -> int | None:
    text = str(value).replace(",", "").strip()
    return int(text) if text.isdigit() else None


@pytest.mark.django_db
def test_every_dashboard_figure_equals_the_count_of_the_list_it_links_to(client, django_user_model):
    user = _officer(django_user_model)
    _seed()
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    checked = 0
    for section in collect_cards(request):
        for card in section.cards:
            if NOT_A_LIST_COUNT.match(card.title):
                continue
            value = _as_int(card.value)
            if value is None or section.app_label == "inventory" and not card.url:
                continue  # per-category record estimates (see NOT_A_LIST_COUNT)
            assert card.url, f"{section.title}: {card.title} links nowhere"
            assert _list_count(client, card.url) == value, (card.title, card.url)
            checked += 1
    assert checked >= 15


@pytest.mark.django_db
def test_the_1798_83_card_shows_last_years_disclosures_the_notices_due_now_cover(client, django_user_model):
    user = _officer(django_user_model)
    _seed()
    request = RequestFactory().get("/admin/")
    request.user = user
    cards = {c.title: c for s in collect_cards(request) for c in s.cards}
    last_year = disclosure_rules.year_of(timezone.now()) - 1
    card = cards[f"Direct-marketing disclosures {last_year}"]
    assert (
        card.value == 2
    )  # two people last year; this year's three and the year before's one are not counted
    assert f"year={last_year}" in card.url


@pytest.mark.django_db
def test_opt_outs_today_counts_and_links_only_todays_withdrawals(client, django_user_model):
    user = _officer(django_user_model)
    _seed()
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    card = next(c for s in collect_cards(request) for c in s.cards if c.title == "Opt-outs today")
    assert card.value == 1
    assert _list_count(client, card.url) == 1
    assert _list_count(client, "/admin/consent/consentevent/?action__exact=withdraw") == 2


@pytest.mark.django_db
def test_dashboard_is_compact_and_every_card_is_a_link(client, django_user_model):
    user = _officer(django_user_model)
    _seed()
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    dashboard = page.split('id="dashboard"')[1].split('id="content-related"')[0]
    assert 'class="dashboard-grid"' in dashboard  # one compact box per app, one line per figure
    request = RequestFactory().get("/admin/")
    request.user = user
    linked = [c for s in collect_cards(request) for c in s.cards if c.url]
    assert dashboard.count('<a class="dashboard-card"') == len(linked)  # the whole line is the link
    assert "app-requests_app" in page  # the app list is still on the index
