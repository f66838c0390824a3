"""Who may do what in the admin: every screen of every registered model, every custom view from
`get_urls()`, and every bulk action, walked for each role, a non-staff user and an anonymous visitor.

The tables below ARE the permission matrix as users meet it. A change in any cell (a new screen, a
permission added to a role) fails this test until the table is updated on purpose.

- Anonymous visitors and signed-in users who are not staff are sent to the login page (302) from
  every admin URL, for every method: asserted for every URL walked, not listed per row.
- POSTs send an empty form: a role that may act gets the form back with errors (200) or, for
  actions without a form, the action's redirect (302); a role that may not gets 403.
- Roles act through services, which write audit events: an action a role may not run must leave
  the audit trail as it was (checked after every forbidden POST).
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from requests_app.admin import CASE_ACTIONS

from .world import ANALYST, ANON, AUDITOR, JANE_ANSWER, NONSTAFF, OFFICER, ROLES, build_world, role_users

pytestmark = pytest.mark.django_db

COLUMNS = ("list", "add", "add+", "change", "change+", "delete", "history")

# Status per column for each role. Columns: changelist, add form (GET), add (POST), change form (GET),
# change (POST), delete confirmation (GET), history (GET). A model without a row walks list/add only.
# 200 on "change" with 403 on "change+" is a read-only view.
# fmt: off
ADMIN = {
    #                                       Privacy officer                  Analyst                          Auditor
    #                                       lst add ad+ chg ch+ del his      lst add ad+ chg ch+ del his      lst add ad+ chg ch+ del his
    "auth.group":                          ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "auth.user":                           ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "authtoken.tokenproxy":                ("403 403 403 403 403 403 302", "403 403 403 403 403 403 302", "403 403 403 403 403 403 302"),
    "django_celery_beat.periodictask":     ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "django_celery_beat.clockedschedule":  ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "django_celery_beat.crontabschedule":  ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "django_celery_beat.solarschedule":    ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "django_celery_beat.intervalschedule": ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "axes.accessattempt":                  ("403 403 403",                 "403 403 403",                 "403 403 403"),
    "axes.accesslog":                      ("403 403 403",                 "403 403 403",                 "403 403 403"),
    "axes.accessfailurelog":               ("403 403 403",                 "403 403 403",                 "403 403 403"),
    "otp_totp.totpdevice":                 ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "otp_static.staticdevice":             ("403 403 403 403 403 403 403", "403 403 403 403 403 403 403", "403 403 403 403 403 403 403"),
    "audit.auditevent":                    ("200 403 403 200 403 403 200", "403 403 403 403 403 403 403", "200 403 403 200 403 403 200"),
    "inventory.datasubject":               ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.datacategory":              ("200 403 403 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.source":                    ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.thirdparty":                ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.system":                    ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.contactpoint":              ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.useraccount":               ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.companyaffiliation":        ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.marketingpreference":       ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.surveyresponse":            ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "inventory.activityevent":             ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "notices.notice":                      ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "notices.noticetemplate":              ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "notices.breach":                      ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.purpose":                     ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.policyversion":               ("200 200 200 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.consentevent":                ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.consentimport":               ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.consentstate":                ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.suppressedaddress":           ("200 200 200 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "consent.reconsentrequest":            ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "retention.retentionschedule":         ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "retention.legalhold":                 ("200 200 200 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "retention.sweeprun":                  ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "retention.erasurecertificate":        ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "retention.erasurejournal":            ("200 403 403 200 403 403 200", "403 403 403 403 403 403 403", "200 403 403 200 403 403 200"),
    "disclosures.disclosuresettings":      ("302 403 403 200 200 403 200", "302 403 403 200 403 403 200", "302 403 403 200 403 403 200"),
    "disclosures.categorymapping":         ("200 200 200 200 200 200 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.disclosurebatch":         ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.disclosureevent":         ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.disclosurenoticerequest": ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.noticecorrection":        ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.correctionrecipient":     ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "disclosures.disclosureexport":        ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "requests_app.privacyrequest":         ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "requests_app.caseevent":              ("200 403 403 200 403 403 200", "403 403 403 403 403 403 403", "200 403 403 200 403 403 200"),
    "connectors.connection":               ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "connectors.dataset":                  ("200 200 200 200 200 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "connectors.systemrun":                ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "connectors.erasurejournal":           ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "connectors.datamapsnapshot":          ("200 403 403 200 403 403 200", "200 403 403 200 403 403 200", "200 403 403 200 403 403 200"),
    "privacycenter.drpagent":              ("200 200 200",                 "200 403 403",                 "200 403 403"),
    "privacycenter.drprequest":            ("200 403 403",                 "200 403 403",                 "200 403 403"),
}

# Custom admin views (get_urls): (url name, arguments), then "GET POST" status per role.
CUSTOM = {
    #                                                            officer    analyst    auditor
    ("otp_totp_totpdevice_config", "otp_totp.totpdevice"):      ("403 403", "403 403", "403 403"),
    ("otp_totp_totpdevice_qrcode", "otp_totp.totpdevice"):      ("403 403", "403 403", "403 403"),
    ("notices_template_preview", "notices.noticetemplate"):     ("200 200", "200 200", "200 200"),
    ("consent_policyversion_publish", "consent.policyversion"): ("200 200", "403 403", "403 403"),
    ("consent_consentevent_import", None):                      ("200 200", "403 403", "403 403"),
    ("consent_consentevent_receipt", "consent.consentevent"):   ("200 200", "200 200", "200 200"),
    ("consent_subject_history", "subject"):                     ("200 200", "200 403", "200 403"),
    ("consent_suppressedaddress_lift", "consent.suppressedaddress"): ("200 200", "403 403", "403 403"),
    ("retention_sweeprun_sweep_now", None):                     ("200 200", "403 403", "403 403"),
    ("retention_sweeprun_preview", None):                       ("200 200", "200 200", "200 200"),
    ("retention_erasurecertificate_print", "retention.erasurecertificate"): ("200 200", "200 200", "200 200"),
    ("retention_erasurecertificate_pdf", "retention.erasurecertificate"):   ("200 200", "200 200", "200 200"),
    ("disclosures_notice_render", "notice_html"):               ("200 200", "200 200", "200 200"),
    ("disclosures_notice_preview", None):                       ("200 200", "200 200", "200 200"),
    ("disclosures_correction_open", None):                      ("200 200", "403 403", "403 403"),
    ("disclosures_export_new", None):                           ("200 200", "200 200", "403 403"),
    ("disclosures_export_download", "disclosures.disclosureexport"): ("404 404", "404 404", "403 403"),
    ("requests_app_privacyrequest_intake", None):               ("200 200", "403 403", "403 403"),
    ("requests_app_privacyrequest_metrics", None):              ("200 200", "200 200", "200 200"),
    ("connectors_systemrun_retry_one", "connectors.systemrun"): ("405 302", "403 403", "403 403"),
    ("connectors_systemrun_waive_one", "connectors.systemrun"): ("405 302", "403 403", "403 403"),
    ("connectors_datamap_generate", None):                      ("405 302", "403 403", "403 403"),
    ("connectors_datamap_csv", "connectors.datamapsnapshot"):   ("200 200", "200 200", "200 200"),
    ("connectors_datamap_pdf", "connectors.datamapsnapshot"):   ("200 200", "200 200", "200 200"),
    # The case page's buttons (requests_app CASE_ACTIONS, .../<case id>/act/<name>/); send_link and fulfil
    # have no form: an officer's POST acts (here: refused by the service, case not verified) and redirects.
    ("act:assign", "requests_app.privacyrequest"):              ("200 200", "403 403", "403 403"),
    ("act:send_link", "requests_app.privacyrequest"):           ("200 302", "403 403", "403 403"),
    ("act:verify", "requests_app.privacyrequest"):              ("200 200", "403 403", "403 403"),
    ("act:authority", "requests_app.privacyrequest"):           ("200 200", "403 403", "403 403"),
    ("act:doubt", "requests_app.privacyrequest"):               ("200 200", "403 403", "403 403"),
    ("act:correction", "requests_app.privacyrequest"):          ("200 200", "403 403", "403 403"),
    ("act:fulfil", "requests_app.privacyrequest"):              ("200 302", "403 403", "403 403"),
    ("act:approve_release", "requests_app.privacyrequest"):     ("200 302", "403 403", "403 403"),
    ("act:restriction", "requests_app.privacyrequest"):         ("200 200", "403 403", "403 403"),
    ("act:hold", "requests_app.privacyrequest"):                ("200 200", "403 403", "403 403"),
    ("act:release", "requests_app.privacyrequest"):             ("200 200", "403 403", "403 403"),
    ("act:extend", "requests_app.privacyrequest"):              ("200 200", "403 403", "403 403"),
    ("act:fee", "requests_app.privacyrequest"):                 ("200 200", "403 403", "403 403"),
    ("act:lookback", "requests_app.privacyrequest"):            ("200 200", "403 403", "403 403"),
    ("act:note", "requests_app.privacyrequest"):                ("200 200", "403 403", "403 403"),
    ("act:deny", "requests_app.privacyrequest"):                ("200 200", "403 403", "403 403"),
    ("act:withdraw", "requests_app.privacyrequest"):            ("200 200", "403 403", "403 403"),
}

# Bulk actions offered on each changelist, per role (models not listed offer none to anyone).
ACTIONS = {
    #                                officer                                                  analyst            auditor
    "notices.notice":              ({"retry_notices", "cancel_notices"},                      set(),             set()),
    "notices.breach":              ({"notify_subjects", "close_breaches"},                    set(),             set()),
    "consent.reconsentrequest":    ({"dismiss"},                                              set(),             set()),
    "retention.retentionschedule": ({"sweep_selected_now"},                                   set(),             set()),
    "retention.legalhold":         ({"release_selected"},                                     set(),             set()),
    "disclosures.categorymapping": ({"delete_selected"},                                      set(),             set()),
    "disclosures.noticecorrection": ({"send_corrected_notices"},                              set(),             set()),
    "disclosures.disclosureexport": ({"retry"},                                               {"retry"},         set()),
    "connectors.connection":       ({"test_connections"},                                    set(),             set()),
    "connectors.systemrun":        ({"retry"},                                                set(),             set()),
    "requests_app.privacyrequest": ({"assign_to_me", "send_verification_link", "fulfil_selected",
                                     "extend_selected", "deny_selected"},                     set(),             set()),
}
# fmt: on


def _url_args(world, key):
    if key is None:
        return []
    if key == "subject":
        return [world.subject.public_id]
    if key == "notice_html":
        return [world.pk("disclosures.disclosurenoticerequest"), "html"]
    return [world.pk(key)]


def _client(users, caller) -> Client:
    client = Client(raise_request_exception=False)
    if caller != ANON:
        client.force_login(users[caller])
    return client


def _model_urls(world, model) -> list[tuple[str, str]]:
    info = (model._meta.app_label, model._meta.model_name)
    urls = [
        ("GET", reverse("admin:{}_{}_changelist".format(*info))),
        ("GET", reverse("admin:{}_{}_add".format(*info))),
        ("POST", reverse("admin:{}_{}_add".format(*info))),
    ]
    obj = world.objects.get(model._meta.label_lower)
    if obj is not None:
        urls += [
            ("GET", reverse("admin:{}_{}_change".format(*info), args=[obj.pk])),
            ("POST", reverse("admin:{}_{}_change".format(*info), args=[obj.pk])),
            ("GET", reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])),
            ("GET", reverse("admin:{}_{}_history".format(*info), args=[obj.pk])),
        ]
    return urls


def _custom_urls(world) -> list[tuple[tuple, str]]:
    out = []
    for key in CUSTOM:
        name, arg = key
        if name.startswith("act:"):
            action = name.split(":", 1)[1]
            url = reverse("admin:requests_app_privacyrequest_act", args=[world.pk(arg), action])
        else:
            url = reverse(f"admin:{name}", args=_url_args(world, arg))
        out.append((key, url))
    return out


def _request(client, method, url):
    return client.get(url) if method == "GET" else client.post(url, {})


@pytest.fixture
def world_and_users(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    users = role_users()
    return build_world(users=users), users


def _walk_one(client, caller: str, method: str, url: str) -> str:
    """One request of the walk: signed-out callers go to the login; a refused POST changes nothing."""
    before = AuditEvent.objects.count()
    response = _request(client, method, url)
    if caller in (ANON, NONSTAFF):
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), (caller, url)
    elif method == "POST" and response.status_code == 403:
        assert AuditEvent.objects.count() == before, f"{caller} POST {url} was refused but acted"
    return str(response.status_code)


def test_every_admin_screen_custom_view_and_action_answers_each_role_as_the_matrix_says(world_and_users):
    world, users = world_and_users
    assert {m._meta.label_lower for m in admin.site._registry} == set(ADMIN), "new admin: add it to ADMIN"
    custom_names = {
        p.name
        for model_admin in admin.site._registry.values()
        for p in model_admin.get_urls()
        if p.name and not p.name.endswith(("_changelist", "_add", "_change", "_delete", "_history"))
    } | {"consent_subject_history"}
    table_names = {"requests_app_privacyrequest_act" if k[0].startswith("act:") else k[0] for k in CUSTOM}
    assert custom_names == table_names, "new custom admin view: add it to CUSTOM"
    buttons = {k[0].removeprefix("act:") for k in CUSTOM if k[0].startswith("act:")}
    assert buttons == {spec[0] for spec in CASE_ACTIONS}, "new case button: add it to CUSTOM"

    found, expected, walked = {}, {}, 0
    # The officer goes last: some of the officer's POSTs act (publish, sweep, send a link).
    for caller in (ANON, NONSTAFF, ANALYST, AUDITOR, OFFICER):
        client = _client(users, caller)
        for model in admin.site._registry:
            label = model._meta.label_lower
            codes = []
            for method, url in _model_urls(world, model):
                codes.append(_walk_one(client, caller, method, url))
                walked += 1
            if caller in ROLES:
                found[(label, caller)] = " ".join(codes)
                expected[(label, caller)] = ADMIN[label][ROLES.index(caller)]
        for key, url in _custom_urls(world):
            codes = []
            for method in ("GET", "POST"):
                codes.append(_walk_one(client, caller, method, url))
                walked += 1
            if caller in ROLES:
                found[(key, caller)] = " ".join(codes)
                expected[(key, caller)] = CUSTOM[key][ROLES.index(caller)]
    wrong = {k: f"expected {expected[k]}, got {v}" for k, v in found.items() if v != expected[k]}
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in sorted(wrong.items(), key=str))
    assert walked > 1500  # every caller, every screen: the count is quoted in the closing note
    print(f"admin walk: {walked} requests, {len(found)} role/screen cells checked")


def test_bulk_actions_offered_to_each_role_and_forbidden_ones_do_nothing(world_and_users, rf):
    world, users = world_and_users
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        for role in ROLES:
            request = rf.get("/")
            request.user = users[role]
            # A changelist the role can't open offers nothing (some third-party admins list actions anyway).
            visible = model_admin.has_view_or_change_permission(request)
            offered = set(model_admin.get_actions(request)) if visible else set()
            want = ACTIONS.get(label, (set(), set(), set()))[ROLES.index(role)]
            assert offered == want, (label, role, offered)
    # Every action of every admin, posted by each role that isn't offered it: nothing happens.
    tried = 0
    for role in (ANALYST, AUDITOR, OFFICER):
        client = _client(users, role)
        for label, per_role in ACTIONS.items():
            allowed = per_role[ROLES.index(role)]
            model = next(m for m in admin.site._registry if m._meta.label_lower == label)
            info = (model._meta.app_label, model._meta.model_name)
            for action in sorted(set().union(*per_role) - allowed):
                before = (AuditEvent.objects.count(), model.objects.count())
                response = client.post(
                    reverse("admin:{}_{}_changelist".format(*info)),
                    {"action": action, "_selected_action": [world.pk(label)], "index": "0"},
                )
                tried += 1
                assert response.status_code in (200, 302, 403), (role, label, action)
                assert (AuditEvent.objects.count(), model.objects.count()) == before, (role, label, action)
    assert tried > 0
    print(f"forbidden bulk actions posted: {tried}")


def test_only_officers_see_decrypted_fields_on_the_subject_page(world_and_users):
    world, users = world_and_users
    url = (
        reverse("admin:inventory_datasubject_change", args=[world.subject.pk])
        + "?reveal=1&reveal_reason=audit"
    )
    for role in ROLES:
        page = _client(users, role).get(url).content.decode()
        assert (JANE_ANSWER in page) is (role == OFFICER), role
    reveal = Permission.objects.get(codename="reveal_sensitive")
    assert set(reveal.group_set.values_list("name", flat=True)) == {OFFICER}


def test_case_notes_are_sealed_for_analysts_and_auditors(world_and_users):
    from requests_app.services import request_note_add

    world, users = world_and_users
    case = world.objects["requests_app.privacyrequest"]
    request_note_add(case=case, note="Caller mentioned her cardiologist appointment", actor=users[OFFICER])
    url = reverse("admin:requests_app_privacyrequest_change", args=[case.pk])
    for role in ROLES:
        page = _client(users, role).get(url).content.decode()
        assert page and ("cardiologist" in page) is (role == OFFICER), role
