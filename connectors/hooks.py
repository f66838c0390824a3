"""Listeners above us: connectors never import the apps that call them, so those apps register here.

`on_case_settled(fn)`: `fn(case_id)` runs (after commit) when the last unsettled run of a case becomes
done or waived — requests_app resumes the case's fulfilment from it.
"""

from collections.abc import Callable

from django.db import transaction

_LISTENERS: list[Callable[[int], None]] = []


def on_case_settled(fn: Callable[[int], None]) -> None:
    if fn not in _LISTENERS:
        _LISTENERS.append(fn)


def case_settled(case_id: int | None) -> None:
    """Called by the services after a run settles; tells the listeners if the whole case is settled."""
    if case_id is None:
        return
    from .models import SETTLED, SystemRun

    if SystemRun.objects.filter(case_id=case_id).exclude(status__in=SETTLED).exists():
        return
    for fn in list(_LISTENERS):
        transaction.on_commit(lambda fn=fn: fn(case_id))
