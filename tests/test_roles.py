"""The three roles exist after migrate and hold exactly the permission matrix."""

import pytest
from django.contrib.auth.models import Group

from privacyops.roles import permission_matrix


def _perms(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


@pytest.mark.django_db
def test_roles_are_created_with_exactly_the_matrix():
    matrix = permission_matrix()
    assert set(matrix) == {"Privacy officer", "Analyst", "Auditor"}
    for role, perms in matrix.items():
        assert _perms(Group.objects.get(name=role)) == perms


@pytest.mark.django_db
def test_analyst_reads_but_never_erases_edits_or_decrypts():
    analyst = _perms(Group.objects.get(name="Analyst"))
    assert "inventory.view_datasubject" in analyst
    forbidden = {"inventory.erase_subject", "inventory.reveal_sensitive", "inventory.change_datasubject"}
    assert not analyst & forbidden
    assert not any(p.split(".")[1].startswith(("add_", "change_", "delete_")) for p in analyst)


@pytest.mark.django_db
def test_auditor_is_read_only_everywhere_and_reads_the_audit_trail():
    auditor = _perms(Group.objects.get(name="Auditor"))
    assert "audit.view_auditevent" in auditor
    assert all(p.split(".")[1].startswith("view_") for p in auditor)


@pytest.mark.django_db
def test_privacy_officer_may_erase_and_reveal():
    officer = _perms(Group.objects.get(name="Privacy officer"))
    assert {"inventory.erase_subject", "inventory.reveal_sensitive"} <= officer
