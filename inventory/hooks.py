"""Explicit extension points for apps above the inventory (no Django signals: docs/design.md).

`before_subject_erasure`: callables `fn(*, subject_id: int) -> None` run by the erasure engine inside
the erasure transaction, before the subject's records and data key are destroyed. The consent app
uses it to keep a keyed hash of opted-out addresses in its suppression list.
"""

from collections.abc import Callable

ErasureHook = Callable[..., None]

_before_subject_erasure: list[ErasureHook] = []


def register_before_subject_erasure(fn: ErasureHook) -> ErasureHook:
    """Add a hook once (registering twice, e.g. from a reloaded AppConfig.ready, runs it once)."""
    if fn not in _before_subject_erasure:
        _before_subject_erasure.append(fn)
    return fn


def unregister_before_subject_erasure(fn: ErasureHook) -> None:
    """Remove a hook registered earlier (tests that plug in a temporary one); absent is fine."""
    if fn in _before_subject_erasure:
        _before_subject_erasure.remove(fn)


def run_before_subject_erasure(*, subject_id: int) -> None:
    """Run every hook, in registration order; an exception aborts the caller's erasure transaction."""
    for fn in list(_before_subject_erasure):
        fn(subject_id=subject_id)
