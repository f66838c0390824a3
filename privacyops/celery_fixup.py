"""Celery's Django fix-up, with database connections that live as long as CONN_MAX_AGE says (issue 19).

Celery's own fix-up (`celery.fixups.django`) closes every database connection before and after every
task, whatever CONN_MAX_AGE says: each task pays a new PostgreSQL backend (fork, authentication, the
catalog caches warming again), which at a sweep's few milliseconds per window is a large share of a
task. This one treats a task as Django treats a request: before and after it, each connection of the
task's thread is closed only if it is unusable, in a broken transaction state or older than
CONN_MAX_AGE (`close_if_unusable_or_obsolete`, what `close_old_connections` does around a request).
CONN_MAX_AGE=0 (the default) still means a connection per task.

A connection kept between tasks may have died meanwhile (database restart, pg_terminate_backend, a
proxy's idle timeout): before each task the worker checks a kept connection on its first use, as
CONN_HEALTH_CHECKS does for requests, so the task gets a fresh connection instead of an error.

The worker also loads, once at start-up, what a first task would otherwise pay for: the URL resolver
(tasks build links), the template engines and the mail backend.
"""

from typing import Any

from celery.fixups.django import DjangoFixup, DjangoWorkerFixup


def preload() -> None:
    """Import and build the per-process caches a task's first use would otherwise build."""
    from django.core.mail import get_connection
    from django.template import engines
    from django.urls import get_resolver

    get_resolver().reverse_dict  # noqa: B018 - populates the resolver (imports every urls module)
    for backend in engines.all():
        getattr(getattr(backend, "engine", None), "template_loaders", None)  # builds the loaders
    get_connection()  # imports and configures the mail backend; opens nothing


class WorkerFixup(DjangoWorkerFixup):
    """Per-task connection handling by CONN_MAX_AGE instead of closing after every task."""

    def close_database(self, **kwargs: Any) -> None:
        for conn in self._db.connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
            if conn.connection is not None:
                # Kept for the next task: check it on first use (Django resets this per connect).
                conn.health_check_enabled = True

    def install(self) -> "WorkerFixup":
        preload()
        super().install()
        # The worker's main process starts without connections, as with Celery's fix-up (a forked
        # pool child must never share its parent's).
        self._close_database()
        return self

    def on_worker_process_init(self, **kwargs: Any) -> None:
        super().on_worker_process_init(**kwargs)
        preload()


class Fixup(DjangoFixup):
    """Celery's Django fix-up (django.setup, checks, DjangoTask, timezone) with `WorkerFixup`."""

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = WorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def fixup(app: Any) -> Fixup:
    """The `fixups=` entry point: installed unconditionally (this project always runs on Django)."""
    return Fixup(app).install()
