"""gunicorn's access and error logs through the same redaction filter as the application's logs.

gunicorn configures its own loggers (`gunicorn.access`, `gunicorn.error`), outside settings.LOGGING;
request lines carry signed links and URL-encoded addresses, so they are scrubbed here too.
Selected by `logger_class` in gunicorn.conf.py (loaded by gunicorn from the working directory).
"""

from gunicorn.glogging import Logger

from privacyops.logging import RedactPersonalData


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactPersonalData) for f in log.filters):
                log.addFilter(RedactPersonalData())
