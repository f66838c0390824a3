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


def sweep_protected_subject_sources() -> list[Iterable[int]]:
    """What each provider returns, unevaluated: a sweep window embeds querysets as subqueries, so the
    protected subjects are read in the window's own statement (one round trip, same snapshot)."""
    return [fn() for fn in list(_protected)]


def sweep_protected_subject_ids() -> set[int]:
    """Every subject id a sweep keeps back right now (read afresh for every window)."""
    ids: set[int] = set()
    for fn in list(_protected):
        ids.update(int(i) for i in fn())
    return ids


# `after_hold_release`: callables `fn(*, subject_id: int | None) -> None` run inside the release
# transaction (subject_id None: a category-wide hold ended). The requests app resumes the erasures the
# hold deferred (a task, queued when the release commits).
HoldReleased = Callable[..., None]

_after_hold_release: list[HoldReleased] = []


def register_after_hold_release(fn: HoldReleased) -> HoldReleased:
    if fn not in _after_hold_release:
        _after_hold_release.append(fn)
    return fn


def run_after_hold_release(*, subject_id: int | None) -> None:
    for fn in list(_after_hold_release):
        fn(subject_id=subject_id)
