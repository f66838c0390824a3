"""Which template a notice is rendered from: shared by the outbox (services) and previews (selectors)."""

from django.core.exceptions import ValidationError

from .models import NoticeTemplate


def language_candidates(language: str) -> list[str]:
    """The language asked for, then its base language, then English (fr-CA -> fr-CA, fr, en)."""
    language = (language or "en").strip()
    found = [language]
    base = language.split("-")[0].split("_")[0]
    for candidate in (base, "en"):
        if candidate not in found:
            found.append(candidate)
    return found


def active_template(*, kind: str, language: str = "en") -> NoticeTemplate:
    """The active template for the language, else its base language (fr-CA -> fr), else English."""
    candidates = language_candidates(language)
    found = {
        t.language: t for t in NoticeTemplate.objects.filter(kind=kind, active=True, language__in=candidates)
    }
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    raise ValidationError(
        f"There is no active template for notices of kind '{kind}'. Activate one in Notices › Templates."
    )
