"""Ids drawn ahead for first-visit web choices (issue 18): data-subject and ledger ids kept per process.

A first visit's evidence is sealed bound to its ledger row and to its new pseudonymous subject
(inventory.crypto), so both ids must be known before the statement that writes them: drawing them in
a round trip of their own is what the one-statement first visit saves (consent.services.web_store). So
each process draws them in bulk from the tables' own sequences (inventory.bulk.reserve_ids: one draw
per SUBJECTS first visits) and hands them out.

A sequence never gives an id twice, so a drawn id is free unless a sequence was set back or rows were
written with ids of their own (a restore, TRUNCATE ... RESTART IDENTITY, a fixture): the first-visit
statement then fails on the primary key, writes nothing, and the choice takes the transaction path
after `forget()`. Ids drawn and never used (a process exiting) are gaps, as sequences have anyway. A
first visit's ids may be lower than ids other processes committed before it: nothing orders the ledger
by id alone across subjects (the fold ranks a subject's events by time, then id).
"""

import os
import threading
from collections import deque

from django.db import connection

from inventory import bulk
from inventory.models import DataSubject

from ..models import ConsentEvent

SUBJECTS = 32  # first visits per draw
EVENTS = 4 * SUBJECTS  # ledger ids per draw (a first visit writes one per purpose chosen or signalled)

_lock = threading.Lock()
_pool: dict[str, tuple[deque[int], deque[int]]] = {}  # database name -> (subject ids, ledger ids)


def forget() -> None:
    """Drop every id held (after one turned out taken; in a forked child, which must not share them)."""
    with _lock:
        _pool.clear()


os.register_at_fork(after_in_child=forget)  # a worker forked from a process holding ids starts empty


def held() -> tuple[int, int]:
    """How many (subject, ledger) ids this process holds for the current database."""
    with _lock:
        subjects, ledger = _pool.get(connection.settings_dict["NAME"], ((), ()))
        return len(subjects), len(ledger)


def _take(database: str, events: int) -> tuple[int, list[int]] | None:
    with _lock:
        subjects, ledger = _pool.get(database, ((), ()))
        if not subjects or len(ledger) < events:
            return None
        return subjects.popleft(), [ledger.popleft() for _ in range(events)]


def take(events: int) -> tuple[int, list[int]]:
    """A data-subject id and `events` ledger ids (ascending) for one first visit, drawn now if short."""
    database = connection.settings_dict["NAME"]
    found = _take(database, events)
    while found is None:
        subjects = sorted(bulk.reserve_ids(DataSubject, SUBJECTS))
        ledger = sorted(bulk.reserve_ids(ConsentEvent, max(EVENTS, events)))
        with _lock:
            held = _pool.setdefault(database, (deque(), deque()))
            held[0].extend(subjects)
            held[1].extend(ledger)
        found = _take(database, events)
    subject_id, event_ids = found
    return subject_id, sorted(event_ids)
