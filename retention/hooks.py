"""Extension point for apps above retention (no Django signals: docs/design.md, "Layers").

`sweep_protected_subjects`: callables `fn() -> QuerySet` of subject ids (`values("subject_id")` or a
list) whose records a retention sweep must not touch for now. The requests app registers the subjects
with an open access or portability case: a pending request must not lose the data it has to return
(GDPR Art. 15/20, CCPA §1798.110, 11 CCR §7022; docs/regulations.md). Those records are counted as
"kept: open request" in the sweep and in the dry run, and swept by the first run after the case closes.
"""

from collections.abc import Callable, Iterable

ProtectedSubjects = Callable[[], Iterable[int]]

_protected: list[ProtectedSubjects] = []


def register_sweep_protected_subjects(fn: ProtectedSubjects) -> ProtectedSubjects:
    """Add a provider once (a reloaded AppConfig.ready registers it once)."""
    if fn not in _protected:
        _protected.append(fn)
    return fn


def sweep_protected_subject_ids() -> set[int]:
    """Every subject id a sweep keeps back right now (read afresh for every window)."""
    ids: set[int] = set()
    for fn in list(_protected):
        ids.update(int(i) for i in fn())
    return ids
