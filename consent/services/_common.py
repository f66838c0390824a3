"""Helpers shared by the consent services (actor labels, chunking, limits)."""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from ..models import Action, Channel

# A consent can't be dated in the future; allow for the sending system's clock running a bit fast.
CLOCK_SKEW = timedelta(minutes=5)
# From this many rows a batch is written with COPY on PostgreSQL (ids allocated from the sequence).
COPY_THRESHOLD = 200
_CHUNK = 5000
_UPSERT_CHUNK = 500
# Enum .values is recomputed on every access: hot loops use these.
_ACTIONS = frozenset(Action.values)
_CHANNELS = frozenset(Channel.values)


def _actor_fields(actor: Any) -> tuple[Any, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor[:150]
    return actor, actor.get_username()


def _chunks(seq: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
