"""gunicorn settings read from the working directory (the Dockerfile, docker-compose and `gunicorn` run
from the project root): access logs redacted (privacyops.gunicorn_logging), and threaded workers.

Threads (gthread) keep HTTP connections alive and overlap database and Redis waits: the consent endpoint
behind the website's banner is many small requests that each wait on PostgreSQL, which sync workers
serve one at a time per process. `WEB_CONCURRENCY` (processes, gunicorn's own variable) and
`GUNICORN_THREADS` (threads per process) size it; each thread holds its own database connection.
"""

import os

logger_class = "privacyops.gunicorn_logging.RedactingLogger"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5  # seconds: a banner's config fetch and its choice post reuse one connection
