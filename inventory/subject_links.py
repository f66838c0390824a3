"""Links from the subject page to the subject's rows in the other apps' lists (by admin URL name only:
inventory imports no app above it). An app that is not installed simply has no link."""

from django.urls import NoReverseMatch, reverse

from .models import DataSubject

# (label, admin URL name, how the list is filtered to one subject)
SUBJECT_LISTS: tuple[tuple[str, str, str], ...] = (
    ("Privacy requests (cases)", "admin:requests_app_privacyrequest_changelist", "q={public_id}"),
    ("Consent history", "admin:consent_subject_history", ""),
    ("Disclosures (§1798.83 log)", "admin:disclosures_disclosureevent_changelist", "subject__id__exact={pk}"),
    ("§1798.83 notices", "admin:disclosures_disclosurenoticerequest_changelist", "q={public_id}"),
    ("Notices sent (outbox)", "admin:notices_notice_changelist", "subject__id__exact={pk}"),
    ("Audit trail", "admin:audit_auditevent_changelist", "q={pk}"),
)


def subject_links(subject: DataSubject) -> list[tuple[str, str]]:
    """(label, url) of every list that shows this subject's rows elsewhere."""
    links = []
    for label, name, query in SUBJECT_LISTS:
        try:
            if query:
                url = reverse(name) + "?" + query.format(public_id=subject.public_id, pk=subject.pk)
            else:
                url = reverse(name, args=[subject.public_id])
        except NoReverseMatch:
            continue
        links.append((label, url))
    return links
