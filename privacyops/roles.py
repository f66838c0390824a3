"""The permission matrix of the three roles, assembled from each app's roles.py.

Groups are created by a data migration (inventory 0002); their permissions are set to exactly the
matrix after every migrate (post_migrate), so the matrix in code is the single source of truth and
a test pins it.
"""

from django.contrib.auth.models import Group, Permission

from inventory.reference import ROLES

from .discovery import DOMAIN_APPS, app_module


def permission_matrix() -> dict[str, set[str]]:
    matrix: dict[str, set[str]] = {role: set() for role in ROLES}
    for app in DOMAIN_APPS:
        module = app_module(app, "roles")
        if module is None:
            continue
        for role, perms in module.PERMISSIONS.items():
            if role not in matrix:
                raise ValueError(f"{app}.roles names unknown role {role!r}")
            matrix[role].update(perms)
    return matrix


def sync_roles(**kwargs) -> None:
    """Set each group's permissions to the matrix (missing permissions are an error, not a skip)."""
    for role, perms in permission_matrix().items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in sorted(perms):
            app_label, codename = perm.split(".", 1)
            try:
                wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            except Permission.DoesNotExist as exc:
                raise ValueError(f"Role {role!r} names unknown permission {perm!r}") from exc
        group.permissions.set(wanted)
