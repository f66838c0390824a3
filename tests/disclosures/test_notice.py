"""A customer's §1798.83 notice lists exactly that year's direct-marketing categories and recipients."""

import datetime as dt
import re

import pytest
import time_machine

from disclosures import services
from disclosures.models import Purpose
from disclosures.notice import NoticeContent, layout, render_html, render_pdf, render_text
from disclosures.selectors import notice_content

from .factories import (
    AuthorityFactory,
    MarketingPartnerFactory,
    SameBrandAffiliateFactory,
    ServiceProviderFactory,
    ThirdPartyFactory,
    at,
    customers,
    log,
)

pytestmark = pytest.mark.django_db


def test_the_notice_lists_exactly_the_years_direct_marketing_categories_and_recipients():
    alice, bob = customers(2)
    p1, p2, p_old, p_next, p_bob = (MarketingPartnerFactory() for _ in range(5))
    processor, court, acquirer = (
        ServiceProviderFactory(),
        AuthorityFactory(),
        ThirdPartyFactory(kind="acquirer"),
    )
    log(alice, p1, "email", "name_and_address", when=at(2025, 3))
    log(alice, p1, "email", when=at(2025, 9))  # a second share to the same recipient: listed once
    log(alice, p2, "telephone_number", when=at(2025, 11))
    # Not direct marketing: never in the notice, even in the same year.
    log(alice, processor, "credit_card_number", purpose=Purpose.SERVICE_PROVISION, when=at(2025))
    log(alice, court, "ssn", purpose=Purpose.LEGAL_REQUEST, when=at(2025))
    log(alice, acquirer, "payment_history", purpose=Purpose.BUSINESS_TRANSFER, when=at(2025))
    # Other years and other customers.
    log(alice, p_old, "occupation", when=at(2024, 12, 31))
    log(alice, p_next, "education", when=at(2026, 1, 15))
    log(bob, p_bob, "weight", when=at(2025))

    notice = notice_content(subject_id=alice.pk, year=2025)

    assert notice.categories == ("name_and_address", "email", "telephone_number")
    assert {r.third_party_id for r in notice.recipients} == {p1.pk, p2.pk}
    assert [r.name for r in notice.recipients] == sorted([p1.legal_name, p2.legal_name])
    by_id = {r.third_party_id: r for r in notice.recipients}
    assert by_id[p1.pk].categories == ("name_and_address", "email")
    assert by_id[p2.pk].categories == ("telephone_number",)
    assert by_id[p1.pk].name == p1.legal_name and by_id[p1.pk].postal_address == p1.postal_address
    assert notice.customer_reference == str(alice.public_id)
    assert notice.has_disclosures


def test_calendar_years_are_counted_in_california_time():
    (carol,) = customers(1)
    late_2025_in_california = dt.datetime(2026, 1, 1, 5, 0, tzinfo=dt.UTC)  # 21:00 PST on Dec 31
    log(carol, MarketingPartnerFactory(), "email", when=late_2025_in_california)
    assert notice_content(subject_id=carol.pk, year=2025).categories == ("email",)
    assert notice_content(subject_id=carol.pk, year=2026).categories == ()


def test_a_notice_issued_late_on_31_december_in_california_is_dated_31_december():
    """Issued at 22:30 Pacific on 31 December (1 January in UTC): the date is the business's, as the year is."""
    (erin,) = customers(1)
    with time_machine.travel(dt.datetime(2027, 1, 1, 6, 30, tzinfo=dt.UTC), tick=False):
        assert notice_content(subject_id=erin.pk, year=2026).issued_on == "2026-12-31"


def test_a_customer_without_direct_marketing_disclosures_gets_the_notice_that_says_so():
    (dave,) = customers(1)
    log(dave, ServiceProviderFactory(), "email", purpose=Purpose.SERVICE_PROVISION)
    notice = notice_content(subject_id=dave.pk, year=2025)
    assert not notice.has_disclosures and notice.categories == () and notice.recipients == ()
    text = render_text(notice)
    assert "None. During 2025, SYSPRO USA did not disclose your personal information to third parties" in text
    assert "2. Third parties that received it" in text


def test_same_brand_affiliates_are_exempt_except_for_sensitive_categories():
    (erin,) = customers(1)
    exempt = SameBrandAffiliateFactory()  # received only non-sensitive categories
    sensitive = SameBrandAffiliateFactory()  # received a telephone number too
    separate = ThirdPartyFactory(kind="affiliate", same_brand_affiliate=False)  # its own brand: a third party
    log(erin, exempt, "email", "name_and_address")
    log(erin, sensitive, "email", "telephone_number")
    log(erin, separate, "email")

    notice = notice_content(subject_id=erin.pk, year=2025)

    by_id = {r.third_party_id: r for r in notice.recipients}
    assert set(by_id) == {sensitive.pk, separate.pk}
    assert by_id[sensitive.pk].categories == ("telephone_number",)  # only what §1798.83(f) keeps reportable
    assert by_id[separate.pk].categories == ("email",)
    assert notice.categories == ("email", "telephone_number")
    assert notice.exempt_affiliate_count == 1
    assert "In addition, 1 affiliate sharing our brand name received personal information" in render_text(
        notice
    )


def test_the_exempt_affiliate_count_can_be_left_out():
    (fred,) = customers(1)
    log(fred, SameBrandAffiliateFactory(), "email")
    services.disclosure_settings_update(show_same_brand_affiliate_count=False, actor="test")
    notice = notice_content(subject_id=fred.pk, year=2025)
    assert notice.exempt_affiliate_count == 1 and not notice.has_disclosures
    assert "affiliate" not in render_text(notice).split("1. Categories")[1]


def test_product_examples_are_printed_when_the_name_does_not_show_the_business():
    (gina,) = customers(1)
    vague = MarketingPartnerFactory(
        legal_name="Northwind Holdings", product_examples="Industrial safety gear"
    )
    log(gina, vague, "email")
    text = render_text(notice_content(subject_id=gina.pk, year=2025))
    assert "Northwind Holdings" in text
    assert "Nature of business: Catalogue retailer" in text
    assert "Examples of products or services marketed: Industrial safety gear" in text


def test_html_text_and_pdf_share_one_layout():
    (hank,) = customers(1)
    partner = MarketingPartnerFactory(legal_name="Smith & Sons <Lists>")
    log(hank, partner, "email", "payment_history")
    notice = notice_content(subject_id=hank.pk, year=2025)
    text, page, pdf = render_text(notice), render_html(notice), render_pdf(notice)
    plain_page = (
        re.sub(r"<[^>]+>", "\n", page).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )
    plain_page = plain_page.replace("&#x27;", "'")
    for _kind, value in layout(notice):
        for line in value if isinstance(value, list) else [value]:
            assert line in text and line in plain_page, line
    assert "Smith &amp; Sons &lt;Lists&gt;" in page  # escaped, never raw markup
    assert pdf.startswith(b"%PDF") and pdf == render_pdf(notice)  # deterministic bytes


def test_the_employee_count_gate_makes_the_notice_say_it_is_not_required():
    (ivy,) = customers(1)
    services.disclosure_settings_update(employee_count=12, actor="test")
    notice = notice_content(subject_id=ivy.pk, year=2025)
    assert not notice.business.required
    assert "fewer than 20 employees, so §1798.83 does not require this notice" in render_text(notice)


def test_the_opt_out_route_is_explained_when_the_company_runs_it():
    (jo,) = customers(1)
    services.disclosure_settings_update(opt_out_route_enabled=True, actor="test")
    assert "You may opt out, free of charge" in render_text(notice_content(subject_id=jo.pk, year=2025))


def test_a_statement_round_trips_to_the_same_notice():
    (kim,) = customers(1)
    log(kim, MarketingPartnerFactory(), "email")
    log(kim, SameBrandAffiliateFactory(), "ssn")
    notice = notice_content(subject_id=kim.pk, year=2025, reference="ref-1")
    assert NoticeContent.from_statement(notice.to_statement()) == notice
