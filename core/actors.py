"""Who did something: a user, a job name, or nobody ("system").

Every service takes `actor: Actor` and stores `actor_label(actor)` next to the optional user link,
so the record still names its author after the account is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Actor: TypeAlias = "AbstractBaseUser | str | None"

LABEL_MAX_LENGTH = 150


def actor_label(actor: Any) -> str:
    """The label stored with a record: the username, the job name, or "system" (at most 150 chars)."""
    if actor is None:
        return "system"
    label = actor if isinstance(actor, str) else actor.get_username()
    return label[:LABEL_MAX_LENGTH]


def actor_user(actor: Any) -> Any:
    """The user to link, or None when the actor is a job or the system."""
    return None if actor is None or isinstance(actor, str) else actor


def actor_fields(actor: Any) -> dict[str, Any]:
    """Keyword arguments for an `ActorStamped` model: `Model(**actor_fields(actor), ...)`."""
    return {"actor": actor_user(actor), "actor_label": actor_label(actor)}
