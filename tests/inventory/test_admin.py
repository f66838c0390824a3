"""The inventory admin: subject search and filters, the subject page with every record by category,
sealed fields shown only to those allowed (and audited), no deletes, constant query counts."""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from inventory import models as inv
from inventory.registry import registry
from inventory.services import record_create, subject_destroy_data_key
from tests.factories import DataSubjectFactory, ThirdPartyFactory, make_full_subject, years_ago

from .factories import PASSWORD, full_subject_with_records, make_user

CHANGELIST = "admin:inventory_datasubject_changelist"


def _change_url(subject) -> str:
    return reverse("admin:inventory_datasubject_change", args=[subject.pk])


@pytest.fixture
def superuser_client(client):
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    return client


def _login(client, username: str, role: str):
    make_user(username, role=role)
    client.login(username=username, password=PASSWORD)
    return client


def _listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


# --- Changelist: search and filters ------------------------------------------------------------


@pytest.mark.django_db
def test_search_by_email_is_exact_and_ignores_case_and_spaces(superuser_client):
    jane = DataSubjectFactory(name="Jane Doe", email="Jane.Doe@Example.com")
    DataSubjectFactory(name="John Doe", email="john.doe@example.com")
    response = superuser_client.get(reverse(CHANGELIST), {"q": "  JANE.DOE@example.COM "})
    assert _listed(response) == {jane.pk}
    # An email search is exact: a fragment of an address finds nobody.
    assert _listed(superuser_client.get(reverse(CHANGELIST), {"q": "doe@example"})) == set()


@pytest.mark.django_db
def test_search_by_email_finds_further_email_contact_points(superuser_client):
    subject = DataSubjectFactory(email="primary@example.com")
    record_create(
        model=inv.ContactPoint, subject=subject, values={"kind": "email", "value": "Work@Corp.example"}
    )
    assert _listed(superuser_client.get(reverse(CHANGELIST), {"q": "work@corp.EXAMPLE"})) == {subject.pk}


@pytest.mark.django_db
def test_search_by_part_of_a_name_and_by_public_id(superuser_client):
    jane = DataSubjectFactory(name="Jane Doe")
    john = DataSubjectFactory(name="John Smith")
    assert _listed(superuser_client.get(reverse(CHANGELIST), {"q": "doe"})) == {jane.pk}
    assert _listed(superuser_client.get(reverse(CHANGELIST), {"q": str(john.public_id)})) == {john.pk}


@pytest.mark.django_db
def test_filters_by_kind_jurisdiction_country_region_minor_and_erased(superuser_client):
    ca = DataSubjectFactory(country="US", region="CA")
    ny = DataSubjectFactory(country="US", region="NY")
    de = DataSubjectFactory(country="DE", region="BY", kind=inv.DataSubject.Kind.ENTITY)
    uk = DataSubjectFactory(country="GB", region="ENG")
    minor = DataSubjectFactory(country="FR", region="", date_of_birth=years_ago(15))
    erased = DataSubjectFactory(country="IE", region="D")
    inv.DataSubject.objects.filter(pk=erased.pk).update(erased_at=dt.datetime.now(dt.UTC))

    def listed(**params):
        return _listed(superuser_client.get(reverse(CHANGELIST), params))

    assert listed(jurisdiction="us-ca") == {ca.pk}
    assert listed(jurisdiction="us-other") == {ny.pk}
    assert listed(jurisdiction="eea") == {de.pk, minor.pk, erased.pk}
    assert listed(jurisdiction="uk") == {uk.pk}
    assert listed(kind="entity") == {de.pk}
    assert listed(country="US") == {ca.pk, ny.pk}
    assert listed(country="US", region="NY") == {ny.pk}
    assert listed(is_minor__exact="1") == {minor.pk}
    assert listed(erased="yes") == {erased.pk}
    assert erased.pk not in listed(erased="no")


@pytest.mark.django_db
def test_changelist_never_prints_subjects_as_names_or_emails(superuser_client):
    subject = DataSubjectFactory(name="Jane Doe", email="jane@example.com")
    assert "Jane" not in str(subject) and "jane@" not in str(subject)
    response = superuser_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert str(subject) in response.content.decode()


# --- The subject page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_subject_page_lists_every_registered_record_grouped_by_category(superuser_client):
    subject = make_full_subject(name="Jane Doe")
    other = make_full_subject(name="Someone Else")
    response = superuser_client.get(_change_url(subject))
    assert response.status_code == 200
    groups = response.context["record_groups"]
    assert {g.code for g in groups} == {e.category for e in registry}
    shown = {held.label for g in groups for held in g.models}
    assert shown == {e.label for e in registry}
    for group in groups:
        for held in group.models:
            assert held.entry.category == group.code
            if held.label.startswith("inventory."):  # make_full_subject fills the inventory's models
                assert held.rows, f"no {held.label} row shown"
    html = response.content.decode()
    for category in inv.DataCategory.objects.filter(code__in={e.category for e in registry}):
        assert category.name in html
    assert "Acme Corp" in html and "/pricing" in html and f"alt.{subject.email}" in html
    assert f"alt.{other.email}" not in html  # nothing of another subject


@pytest.mark.django_db
def test_subject_page_query_count_does_not_grow_with_the_number_of_records(superuser_client):
    few = full_subject_with_records(1)
    many = full_subject_with_records(6)
    superuser_client.get(_change_url(few))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as one_each:
        assert superuser_client.get(_change_url(few)).status_code == 200
    with CaptureQueriesContext(connection) as six_each:
        assert superuser_client.get(_change_url(many)).status_code == 200
    assert sum(len(h.rows) for g in superuser_client.get(_change_url(many)).context["record_groups"]
               for h in g.models) > 30  # fmt: skip
    assert len(six_each) == len(one_each)
    # session, user, 2x permissions, the subject (admin + its registry row), one per held-record model,
    # sources, systems, categories, and one spare
    assert len(one_each) <= len(registry) + 9


@pytest.mark.django_db
def test_sealed_fields_read_encrypted_for_a_user_without_the_reveal_permission(client):
    subject = make_full_subject()
    _login(client, "analyst", "Analyst")
    response = client.get(_change_url(subject), {"reveal": "1", "reveal_reason": "DSAR case check"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "encrypted" in html
    assert "Inventory counts, says" not in html  # the survey answer
    assert f"tok_{subject.pk}_visa" not in html  # the payment reference
    assert "1980-05-17" not in html  # the date of birth
    assert "Show decrypted" not in html
    assert not AuditEvent.objects.filter(action="sensitive.revealed").exists()


@pytest.mark.django_db
def test_privacy_officer_sees_plaintext_only_on_request_and_the_reveal_is_audited(client):
    subject = make_full_subject()
    _login(client, "officer", "Privacy officer")
    plain = client.get(_change_url(subject)).content.decode()
    assert "Show decrypted sensitive fields" in plain and f"tok_{subject.pk}_visa" not in plain
    revealed = client.get(
        _change_url(subject), {"reveal": "1", "reveal_reason": "DSAR case check"}
    ).content.decode()
    assert f"tok_{subject.pk}_visa" in revealed
    assert "Inventory counts, says" in revealed
    assert "1980-05-17" in revealed
    event = AuditEvent.objects.get(action="sensitive.revealed")
    assert event.subject_id == subject.pk and event.actor_label == "officer"
    assert event.details["channel"] == "admin"
    assert "payment_method_reference" in event.details["fields"]["inventory.useraccount"]
    assert "tok_" not in str(event.details) and "Inventory counts" not in str(event.details)


@pytest.mark.django_db
def test_shredded_subject_shows_shredded_even_to_an_officer(client):
    subject = make_full_subject()
    subject_destroy_data_key(subject_id=subject.pk, reason="test")
    _login(client, "officer", "Privacy officer")
    html = client.get(
        _change_url(subject), {"reveal": "1", "reveal_reason": "DSAR case check"}
    ).content.decode()
    assert "shredded (key destroyed)" in html
    assert f"tok_{subject.pk}_visa" not in html


@pytest.mark.django_db
def test_password_hashes_are_never_displayed(superuser_client):
    subject = make_full_subject()
    inv.UserAccount.objects.filter(subject=subject).update(password_hash="pbkdf2_sha256$1$salt$secrethash")
    html = superuser_client.get(
        _change_url(subject), {"reveal": "1", "reveal_reason": "DSAR case check"}
    ).content.decode()
    assert "secrethash" not in html and "one-way hash" in html


# --- Writes through services, no deletes -----------------------------------------------------------


@pytest.mark.django_db
def test_no_delete_for_subjects_or_held_records_even_for_a_superuser(superuser_client, rf):
    subject = make_full_subject()
    request = rf.get("/")
    request.user = get_user_model().objects.get(username="root")
    for entry in registry:
        model_admin = admin.site._registry.get(entry.model)
        if model_admin is None or entry.model._meta.app_label != "inventory":
            continue
        assert model_admin.has_delete_permission(request) is False, entry.label
        assert "delete_selected" not in model_admin.get_actions(request), entry.label
    response = superuser_client.get(reverse("admin:inventory_datasubject_delete", args=[subject.pk]))
    assert response.status_code == 403


@pytest.mark.django_db
def test_adding_a_subject_in_the_admin_goes_through_the_service(superuser_client):
    today = dt.date.today()
    response = superuser_client.post(
        reverse("admin:inventory_datasubject_add"),
        {
            "kind": "person", "name": "Young Person", "email": " Young@Example.com ", "phone": "",
            "postal_address": "", "company": "", "role": "", "country": "us", "region": "ca",
            "birth_date": years_ago(16).isoformat(),
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content
    subject = inv.DataSubject.objects.get(email_normalized="young@example.com")
    assert (subject.country, subject.region, subject.is_minor) == ("US", "CA", True)
    assert inv.DataKey.objects.filter(subject=subject).exists()
    assert subject.date_of_birth and today.isoformat()[:4] not in subject.date_of_birth  # sealed
    assert AuditEvent.objects.filter(action="subject.created", subject_id=subject.pk).exists()


@pytest.mark.django_db
def test_editing_a_subject_is_audited_with_field_names_only(superuser_client):
    subject = DataSubjectFactory(name="Old Name", email="old@example.com", country="US", region="CA")
    data = {
        "kind": "person", "name": "New Name", "company": subject.company, "role": subject.role,
        "email": "old@example.com", "phone": subject.phone, "postal_address": subject.postal_address,
        "country": "US", "region": "CA", "is_minor": "",
    }  # fmt: skip
    response = superuser_client.post(_change_url(subject), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    subject.refresh_from_db()
    assert subject.name == "New Name"
    event = AuditEvent.objects.get(action="subject.updated", subject_id=subject.pk)
    assert event.details == {"fields": ["name"]}


@pytest.mark.django_db
def test_erased_subjects_cannot_be_edited(superuser_client):
    subject = DataSubjectFactory()
    inv.DataSubject.objects.filter(pk=subject.pk).update(erased_at=dt.datetime.now(dt.UTC))
    response = superuser_client.post(_change_url(subject), {"name": "x"})
    assert response.status_code == 403


# --- Held records and reference tables ------------------------------------------------------------

HELD = [e.model for e in registry if e.model._meta.app_label == "inventory" and e.subject]


@pytest.mark.django_db
@pytest.mark.parametrize("model", HELD, ids=lambda m: m.__name__)
def test_held_record_admin_is_set_up_for_large_tables(model):
    model_admin = admin.site._registry[model]
    assert model_admin.show_full_result_count is False
    assert set(model_admin.list_select_related) >= {"subject", "source", "system"}
    assert "subject" in model_admin.raw_id_fields
    assert set(model_admin.autocomplete_fields) == {"source", "system"}


@pytest.mark.django_db
def test_held_records_can_be_listed_for_one_subject_by_public_id(superuser_client):
    subject, other = make_full_subject(), make_full_subject()
    url = reverse("admin:inventory_activityevent_changelist")
    response = superuser_client.get(url, {"subject__public_id": str(subject.public_id)})
    assert response.status_code == 200
    assert {e.subject_id for e in response.context["cl"].result_list} == {subject.pk}
    assert other.pk not in {e.subject_id for e in response.context["cl"].result_list}


@pytest.mark.django_db
def test_held_record_change_page_shows_sealed_fields_as_encrypted(superuser_client):
    subject = make_full_subject()
    account = inv.UserAccount.objects.get(subject=subject)
    html = superuser_client.get(
        reverse("admin:inventory_useraccount_change", args=[account.pk])
    ).content.decode()
    assert "payment_method_reference (encrypted)" in html
    assert f"tok_{subject.pk}_visa" not in html and account.payment_method_reference not in html


@pytest.mark.django_db
def test_reference_admins_render(superuser_client):
    party = ThirdPartyFactory(kind=inv.ThirdParty.Kind.AFFILIATE, same_brand_affiliate=True)
    for name in ["datacategory", "source", "system", "thirdparty"]:
        assert superuser_client.get(reverse(f"admin:inventory_{name}_changelist")).status_code == 200
    html = superuser_client.get(
        reverse("admin:inventory_thirdparty_change", args=[party.pk])
    ).content.decode()
    assert "printed on 1798.83 notices" in html and "product_examples" in html
    category = inv.DataCategory.objects.get(code="account")
    html = superuser_client.get(
        reverse("admin:inventory_datacategory_change", args=[category.pk])
    ).content.decode()
    assert "user accounts" in html  # the registry's models holding the category


@pytest.mark.django_db
def test_only_an_affiliate_can_share_the_brand():
    from django.core.exceptions import ValidationError

    party = ThirdPartyFactory.build(kind=inv.ThirdParty.Kind.MARKETING_PARTNER, same_brand_affiliate=True)
    with pytest.raises(ValidationError, match="Only an affiliate"):
        party.full_clean()


# --- The subject page as an officer reads it (issue 16) ---------------------------------------------


@pytest.mark.django_db
def test_revealing_asks_a_reason_records_it_and_keeps_the_filters_you_came_from(client):
    subject = make_full_subject()
    _login(client, "officer", "Privacy officer")
    filters = "kind__exact=person&q=x"
    page = client.get(_change_url(subject), {"_changelist_filters": filters}).content.decode()
    fields = page.split('id="reveal-fields"')[1].split("</span>")[0]
    assert 'name="reveal_reason"' in fields and "required" in fields and 'form="reveal-form"' in fields
    assert 'name="_changelist_filters"' in fields
    # its own form, outside the page's change form (forms cannot nest), returning to the records
    assert (
        '<form method="get" action="#subject-records" id="reveal-form"></form>' in page.split("</form>", 1)[1]
    )
    no_reason = client.get(_change_url(subject), {"reveal": "1"}).content.decode()
    assert f"tok_{subject.pk}_visa" not in no_reason and "Give a reason to reveal" in no_reason
    assert not AuditEvent.objects.filter(action="sensitive.revealed").exists()
    revealed = client.get(
        _change_url(subject), {"reveal": "1", "reveal_reason": "DSAR 1a2b", "_changelist_filters": filters}
    ).content.decode()
    assert f"tok_{subject.pk}_visa" in revealed
    assert AuditEvent.objects.get(action="sensitive.revealed").details["reason"] == "DSAR 1a2b"
    assert "_changelist_filters=kind__exact%3Dperson%26q%3Dx#subject-records" in revealed  # "Hide them"


@pytest.mark.django_db
def test_subject_page_shows_human_values_scrolling_tables_and_links_elsewhere(client):
    subject = make_full_subject()
    _login(client, "officer", "Privacy officer")
    page = client.get(_change_url(subject)).content.decode()
    records = page.split('id="subject-records"')[1]
    assert 'class="records-scroll"' in records
    assert "<td>False</td>" not in records and "<td>True</td>" not in records
    assert "<td>person</td>" not in records and "[&#x27;" not in records
    assert '<span class="quiet">' not in records.split("</fieldset>")[0]
    elsewhere = page.split('id="subject-elsewhere"')[1].split("</nav>")[0]
    assert f"/admin/requests_app/privacyrequest/?q={subject.public_id}" in elsewhere
    assert f"/admin/consent/consentstate/subject/{subject.public_id}/" in elsewhere
    assert f"/admin/disclosures/disclosureevent/?subject__id__exact={subject.pk}" in elsewhere
    assert f"/admin/notices/notice/?subject__id__exact={subject.pk}" in elsewhere
    for label in ("Privacy requests", "Consent history", "Disclosures", "Notices sent"):
        assert label in elsewhere
