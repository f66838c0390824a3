#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyops.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        import privacyops.settings  # noqa: F401  (fail early with a clear message, not a traceback)
    except ImproperlyConfigured as exc:
        sys.exit(
            f"privacyops refuses to start: {exc}\n"
            "For development set DEBUG=1 (make run / make test do); in production set the secrets "
            "listed in .env.example."
        )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
