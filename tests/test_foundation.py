"""The project's wiring: settings refuse unsafe starts, Celery runs eagerly and on a real worker."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from privacyops.celery import health

ROOT = Path(__file__).resolve().parent.parent


def _import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import privacyops.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_settings_start_with_development_key_when_debug_is_on():
    result = _import_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_settings_start_in_production_mode_with_all_secrets_set():
    result = _import_settings(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATA_MASTER_KEYS=Fernet.generate_key().decode(),
        HASH_KEY=secrets.token_urlsafe(32),
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_health_task_runs_eagerly_in_process():
    result = health.delay()
    assert result.get() == {"status": "ok", "database": True}


@pytest.mark.redis
def test_health_task_runs_on_a_real_worker_over_redis(celery_worker):
    from privacyops.celery import app

    assert app.conf.task_always_eager is False
    result = health.delay()
    assert result.get(timeout=30) == {"status": "ok", "database": True}
    assert result.status == "SUCCESS"


@pytest.mark.django_db
def test_healthz_answers_when_database_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_admin_login_page_is_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"privacyops" in response.content


@pytest.mark.postgres
@pytest.mark.django_db
def test_suite_talks_to_postgresql_when_configured():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_two_factor_admin_sign_in_is_required_by_default_in_production():
    code = "from django.conf import settings; print(settings.OTP_ADMIN_REQUIRED)"
    env = {**{k: v for k, v in os.environ.items() if k not in {"DEBUG", "OTP_ADMIN_REQUIRED"}}}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), DATA_MASTER_KEYS=Fernet.generate_key().decode(),
               HASH_KEY=secrets.token_urlsafe(32), DJANGO_SETTINGS_MODULE="privacyops.settings")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "True", result.stderr
