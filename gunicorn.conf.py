"""gunicorn settings read from the working directory: access logs redacted (privacyops.gunicorn_logging)."""

logger_class = "privacyops.gunicorn_logging.RedactingLogger"
