"""Shared bits of the connectors' commands: system lookup and identity arguments."""

from django.core.management.base import CommandError

from inventory.models import System


def get_system(code: str) -> System:
    try:
        return System.objects.select_related("connection").get(code=code)
    except System.DoesNotExist:
        raise CommandError(f"No system with code {code!r} (see the admin's Systems list).") from None


def parse_identities(values: list[str]) -> dict[str, list[str]]:
    """`--identity email=a@b.c --identity phone_number=+1...` -> {"email": [...], ...}."""
    out: dict[str, list[str]] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise CommandError(f"--identity takes name=value (e.g. email=someone@example.com), not {item!r}.")
        out.setdefault(name.strip(), []).append(value.strip())
    if not out:
        raise CommandError("Give at least one --identity name=value.")
    return out
