"""A small world with at least one row behind every admin screen and API endpoint, built through the
services (so keys, seals, ledgers and audit events are real), plus one user per role.

Used by the role matrix, the fuzzing and the "no personal data where it doesn't belong" tests.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from inventory import models as inv

OFFICER, ANALYST, AUDITOR = "Privacy officer", "Analyst", "Auditor"
ROLES = (OFFICER, ANALYST, AUDITOR)
# Who calls: the three roles, a signed-in user who is not staff, and nobody.
ANON, NONSTAFF = "anonymous", "non-staff"
CALLERS = (ANON, NONSTAFF, *ROLES)

# The plaintext values of "Jane Roe"; none of them may appear where personal data doesn't belong.
JANE = {
    "name": "Jane Quintessa Roe",
    "email": "jane.quintessa.roe@example.org",
    "phone": "+1 415 555 0142",
    "postal_address": "77 Zinfandel Lane, Sonoma, CA 95476",
}
JANE_ANSWER = "Inventory counts, says Jane Quintessa Roe"  # make_full_subject's survey answer
JANE_PAYMENT = "tok_{pk}_visa"  # make_full_subject's payment reference (formatted with the subject's pk)


def make_role_user(role: str | None, *, staff: bool = True, username: str | None = None):
    """A user in one role (staff, as the admin and the API require), or a plain user when role is None."""
    name = username or (role or "plain").lower().replace(" ", "_")
    user = get_user_model().objects.create_user(username=name, is_staff=staff)  # force_login: no password
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def role_users() -> dict[str, object]:
    users = {NONSTAFF: make_role_user(None, staff=False, username="nonstaff")}
    users.update({role: make_role_user(role) for role in ROLES})
    return users


@dataclass
class World:
    subject: inv.DataSubject
    erased: inv.DataSubject
    objects: dict[str, object] = field(default_factory=dict)  # "app_label.modelname" -> one row

    def pk(self, label: str):
        return self.objects[label].pk


def build_world(*, users: dict | None = None) -> World:
    """One row (at least) of every model an admin screen or API endpoint shows."""
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.authtoken.models import Token

    from audit.models import AuditEvent
    from consent import models as cm
    from consent.services import consent_import_csv, suppression_add
    from disclosures import models as dm
    from disclosures import services as ds
    from disclosures.selectors import disclosure_settings as settings_row
    from notices import models as nm
    from notices.models import NoticeKind
    from notices.services import notice_enqueue
    from requests_app import models as rm
    from retention import models as rem
    from retention.services import erase_subject, legal_hold_place, legal_hold_release, sweep_request
    from tests.consent.factories import add_consent_records, published_policy
    from tests.disclosures.factories import MarketingPartnerFactory, log
    from tests.factories import DataSubjectFactory, make_full_subject
    from tests.notices.factories import make_breach
    from tests.requests_app.factories import make_case

    users = users or {}
    officer = users.get(OFFICER)
    subject = make_full_subject(**JANE)
    other = DataSubjectFactory(name="Erin Erased", email="erin.erased@example.org")
    add_consent_records(subject)
    policy = published_policy()
    consent_import_csv(
        content=b"email,purpose,action,at\nimported.person@example.org,marketing_email,grant,2025-01-02T03:04:05Z\n",
        file_name="list.csv",
    )
    suppression_add(email="suppressed.person@example.org")
    notice = notice_enqueue(
        kind=NoticeKind.REQUEST_ACKNOWLEDGED,
        idempotency_key="security:world:ack",
        context={"reference": "DSAR-1", "request_type": "access", "regime": "the CCPA",
                 "received_on": "2026-03-01", "due_on": "2026-04-15"},
        subject=subject,
    )  # fmt: skip
    breach = make_breach()
    hold = legal_hold_place(
        subject_id=other.pk, reason="Litigation 2026-7", owner=officer or "security tests"
    )
    hold_released = legal_hold_release(hold_id=hold.pk, reason="Settled")
    sweep = sweep_request(dispatch=False)
    certificate = erase_subject(subject_id=other.pk, reason="Erasure request (security tests)")
    partner = MarketingPartnerFactory()
    batch = log([subject], partner, "email", "telephone_number")
    case = make_case(subject_email=JANE["email"], subject_name=JANE["name"])
    ds.notice_1798_83_deliver(subject_id=subject.pk, year=2025)
    correction = ds.correction_open(year=2025, reason="Wrong recipient address", all_requesters=True)
    export = ds.export_request(year=2025)
    connectors_objects = _connectors_rows(case, officer)
    User = get_user_model()
    token = Token.objects.create(user=users.get(OFFICER) or User.objects.create_user("token-owner"))
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    objects = {
        "auth.group": Group.objects.get(name=OFFICER),
        "auth.user": users.get(NONSTAFF) or User.objects.create_user("someone"),
        "authtoken.tokenproxy": token,
        "django_celery_beat.intervalschedule": interval,
        "django_celery_beat.crontabschedule": CrontabSchedule.objects.create(minute="0", hour="3"),
        "django_celery_beat.solarschedule": SolarSchedule.objects.create(
            event="sunrise", latitude=37.77, longitude=-122.42
        ),
        "django_celery_beat.clockedschedule": ClockedSchedule.objects.create(
            clocked_time=timezone.now() + dt.timedelta(days=1)
        ),
        "django_celery_beat.periodictask": PeriodicTask.objects.create(
            name="security-world", task="privacyops.health", interval=interval
        ),
        "otp_totp.totpdevice": TOTPDevice.objects.create(user=token.user, name="phone"),
        "otp_static.staticdevice": StaticDevice.objects.create(user=token.user, name="backup"),
        "inventory.datasubject": subject,
        "inventory.datacategory": inv.DataCategory.objects.get(code="contact"),
        "inventory.source": inv.Source.objects.get(code="website"),
        "inventory.thirdparty": partner,
        "inventory.system": inv.System.objects.get(code="privacyops"),
        "notices.notice": notice,
        "notices.noticetemplate": nm.NoticeTemplate.objects.order_by("pk").first(),
        "notices.breach": breach,
        "consent.purpose": cm.Purpose.objects.get(code="marketing_email"),
        "consent.policyversion": policy,
        "consent.consentevent": cm.ConsentEvent.objects.filter(subject=subject).order_by("pk").first(),
        "consent.consentimport": cm.ConsentImport.objects.get(),
        "consent.consentstate": cm.ConsentState.objects.filter(subject=subject).order_by("pk").first(),
        "consent.suppressedaddress": cm.SuppressedAddress.objects.order_by("pk").first(),
        "consent.reconsentrequest": cm.ReconsentRequest.objects.order_by("pk").first(),
        "retention.retentionschedule": rem.RetentionSchedule.objects.order_by("pk").first(),
        "retention.legalhold": hold_released,
        "retention.sweeprun": sweep,
        "retention.erasurecertificate": certificate,
        "retention.erasurejournal": rem.ErasureJournal.objects.order_by("pk").first(),
        "disclosures.disclosuresettings": settings_row(),
        "disclosures.categorymapping": dm.CategoryMapping.objects.order_by("pk").first(),
        "disclosures.disclosurebatch": batch,
        "disclosures.disclosureevent": dm.DisclosureEvent.objects.order_by("pk").first(),
        "disclosures.disclosurenoticerequest": dm.DisclosureNoticeRequest.objects.order_by("pk").first(),
        "disclosures.noticecorrection": correction,
        "disclosures.correctionrecipient": dm.CorrectionRecipient.objects.order_by("pk").first(),
        "disclosures.disclosureexport": export,
        "requests_app.privacyrequest": case,
        "requests_app.caseevent": rm.CaseEvent.objects.filter(case=case).order_by("pk").first(),
        "audit.auditevent": AuditEvent.objects.order_by("pk").first(),
        **connectors_objects,
    }
    for model in (inv.ContactPoint, inv.UserAccount, inv.CompanyAffiliation, inv.MarketingPreference,
                  inv.SurveyResponse, inv.ActivityEvent):  # fmt: skip
        objects[model._meta.label_lower] = model.objects.filter(subject=subject).first()
    return World(subject=subject, erased=other, objects=objects)


def _connectors_rows(case, officer) -> dict[str, object]:
    """One row of each connectors screen: a manual system's connection, the demo dataset, a failed run
    with its journal line, and a data-map snapshot."""
    from connectors import demo
    from connectors.datamap import datamap_generate
    from connectors.models import ErasureJournal, SystemRun
    from connectors.services import connection_save, dataset_import

    system = inv.System.objects.create(code="crm-world", name="CRM", kind="external", owner="Sales")
    connection = connection_save(
        system=system, kind="manual", owner_email="crm-owner@example.com", actor=officer
    )
    (dataset,) = dataset_import(system=system, text=demo.dataset_text(), actor=officer)[:1]
    run = SystemRun.objects.create(
        case_id=case.pk, system=system, action="erasure", status="failed", error="X: y"
    )
    journal = ErasureJournal.objects.create(
        system=system,
        run=run,
        dataset="crm",
        collection="tickets",
        strategy="delete",
        keys={"id": [1]},
        row_count=1,
    )
    snapshot, _ = datamap_generate(actor=officer)
    return {
        "connectors.connection": connection,
        "connectors.dataset": dataset,
        "connectors.systemrun": run,
        "connectors.erasurejournal": journal,
        "connectors.datamapsnapshot": snapshot,
    }
