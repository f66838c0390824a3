"""Retention writes, one module per use case; each records an audit event with ids, codes and counts only.

- schedules.py  retention schedules (create, update, validation against the registry)
- holds.py      legal holds (place, update, release, release a case's holds, release expired holds)
- erasure.py    erasure of one subject, with its certificate (DSAR erasures, minors)
- sweeps.py     retention sweeps: open or resume, plan into batches, work a batch, close the run
- replay.py     re-applying journaled erasures after a restore, and the journal's mirror
- common.py     what they share (the sweep's actor name, certificate wording, kept-record rows)

Admin, commands, tasks and other apps use the names re-exported here, not the modules (docs/design.md:
a services package re-exports its public names).
"""

from .common import KEPT_LIST_LIMIT, SWEEP_ACTOR
from .erasure import ErasureOutcome, erase_subject, erase_subject_outcome
from .holds import (
    legal_hold_place,
    legal_hold_release,
    legal_hold_update,
    legal_holds_expire,
    legal_holds_release_for_case,
)
from .replay import erasure_mirror_sync, erasures_replay
from .schedules import (
    SCHEDULE_FIELDS,
    retention_schedule_check,
    retention_schedule_create,
    retention_schedule_update,
)
from .sweeps import (
    sweep_batch_fail,
    sweep_batch_process,
    sweep_execute,
    sweep_finish,
    sweep_plan,
    sweep_request,
)

__all__ = [
    "KEPT_LIST_LIMIT",
    "SCHEDULE_FIELDS",
    "SWEEP_ACTOR",
    "ErasureOutcome",
    "erase_subject",
    "erase_subject_outcome",
    "erasure_mirror_sync",
    "erasures_replay",
    "legal_hold_place",
    "legal_hold_release",
    "legal_hold_update",
    "legal_holds_expire",
    "legal_holds_release_for_case",
    "retention_schedule_check",
    "retention_schedule_create",
    "retention_schedule_update",
    "sweep_batch_fail",
    "sweep_batch_process",
    "sweep_execute",
    "sweep_finish",
    "sweep_plan",
    "sweep_request",
]
