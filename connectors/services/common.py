"""What the connectors' use cases share: the errors that fail a run with a message."""

from __future__ import annotations

import sqlalchemy as sa
from django.core.exceptions import ValidationError

from .. import fides, sql
from ..connector import NotConnected
from ..http import HttpConfigError, HttpError

# Errors that fail a run with a message (a retry by an officer may help); infrastructure errors of our
# own database propagate instead, so PrivacyTask retries them.
RUN_ERRORS = (
    NotConnected,
    sql.SystemUnavailable,
    fides.DatasetError,
    sa.exc.SQLAlchemyError,
    ValidationError,
    HttpError,
    HttpConfigError,
)
