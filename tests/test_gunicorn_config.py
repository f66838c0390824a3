"""The web server production runs (Dockerfile, docker-compose) is configured by gunicorn.conf.py alone:
threaded workers with keep-alive for the website's consent endpoint, access logs redacted."""

from pathlib import Path

from gunicorn.app.base import Application
from gunicorn.config import Config

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


class _FileOnly(Application):
    """gunicorn's Application without the command line (pytest's argv is not gunicorn's)."""

    def __init__(self):  # noqa: D107 - the parent would parse sys.argv
        self.cfg = Config()

    def load(self):  # pragma: no cover - never served
        raise NotImplementedError


def _loaded(monkeypatch, **env) -> Config:
    """gunicorn's own loader applied to the file, as `gunicorn` does from the working directory."""
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = _FileOnly()
    app.load_config_from_module_name_or_filename(str(CONF))
    return app.cfg


def test_production_gunicorn_runs_threaded_workers_with_keep_alive_and_the_redacting_logger(monkeypatch):
    cfg = _loaded(monkeypatch)
    assert cfg.worker_class_str == "gthread"
    assert (cfg.workers, cfg.threads, cfg.keepalive) == (3, 4, 5)
    assert cfg.logger_class.__name__ == "RedactingLogger"


def test_processes_and_threads_are_sized_from_the_environment(monkeypatch):
    cfg = _loaded(monkeypatch, WEB_CONCURRENCY="5", GUNICORN_THREADS="8")
    assert (cfg.workers, cfg.threads) == (5, 8)


def test_the_images_start_gunicorn_without_overriding_the_file():
    root = CONF.parent
    for text in ((root / "Dockerfile").read_text(), (root / "docker-compose.yml").read_text()):
        assert "gunicorn privacyops.wsgi:application" in text.replace('", "', " ").replace('["', "")
        assert "--workers" not in text and "--threads" not in text
