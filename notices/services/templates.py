"""Notice templates: validate against the sample context, save with versioning, create."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from audit.services import audit_record
from core.actors import Actor, actor_label

from .. import defaults, rendering
from ..models import NoticeTemplate

_WORDING_FIELDS = ("subject_template", "body_text_template", "body_html_template")


def notice_template_validate(*, template: NoticeTemplate) -> rendering.Rendered:
    """Render the template against its sample context; ValidationError (by field) if it can't."""
    return rendering.validate_template(
        subject_template=template.subject_template,
        body_text_template=template.body_text_template or "",
        body_html_template=template.body_html_template or "",
        sample_context=defaults.sample_context(template.kind, template.sample_context),
        language=template.language,
    )


def notice_template_check(*, template: NoticeTemplate) -> rendering.Rendered:
    """Everything that must hold before a template is saved (used by the service and the admin form):
    valid fields, renders from its sample context, and English keeps an active version."""
    template.language = (template.language or "en").strip()
    template.full_clean(validate_constraints=False)
    rendered = notice_template_validate(template=template)
    if template.pk and not template.active and template.language == "en":
        was_active = NoticeTemplate.objects.filter(pk=template.pk, active=True).exists()
        others = NoticeTemplate.objects.filter(kind=template.kind, language="en", active=True).exclude(
            pk=template.pk
        )
        if was_active and not others.exists():
            raise ValidationError(
                {
                    "active": "This is the only active English template of its kind; activate another version first."
                }
            )
    return rendered


@transaction.atomic
def notice_template_save(*, template: NoticeTemplate, actor: Actor = None) -> NoticeTemplate:
    """Create or change a template. Refused when it fails to render; a change of wording gets a new
    version number; activating it deactivates the other version of its kind and language."""
    notice_template_check(template=template)
    previous = (
        NoticeTemplate.objects.select_for_update().filter(pk=template.pk).first() if template.pk else None
    )
    family = NoticeTemplate.objects.filter(kind=template.kind, language=template.language)
    wording_changed = previous is None or any(
        getattr(previous, f) != getattr(template, f) for f in (*_WORDING_FIELDS, "kind", "language")
    )
    if wording_changed:
        template.version = (family.aggregate(v=Max("version"))["v"] or 0) + 1
    if template.active:
        family.filter(active=True).exclude(pk=template.pk).update(active=False)
    template.updated_by = actor_label(actor)
    template.save()
    audit_record(
        action="notice_template.created" if previous is None else "notice_template.changed",
        actor=actor,
        target=template,
        details={"kind": template.kind, "language": template.language, "version": template.version,
                 "active": template.active, "wording_changed": wording_changed},
    )  # fmt: skip
    return template


def notice_template_create(
    *,
    kind: str,
    subject_template: str,
    body_text_template: str,
    body_html_template: str = "",
    language: str = "en",
    sample_context: dict | None = None,
    description: str = "",
    active: bool = True,
    actor: Actor = None,
) -> NoticeTemplate:
    return notice_template_save(
        template=NoticeTemplate(
            kind=kind,
            language=language,
            subject_template=subject_template,
            body_text_template=body_text_template,
            body_html_template=body_html_template,
            sample_context=sample_context or {},
            description=description,
            active=active,
        ),
        actor=actor,
    )
