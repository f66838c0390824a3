"""Email backends for tests: one that fails like a flaky server, one that refuses the recipient, and
one that runs a callback while "sending" (a slow worker, a concurrent worker)."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FlakyServerBackend(BaseEmailBackend):
    """The mail server drops the connection: a transient failure."""

    calls = 0

    def send_messages(self, messages):
        type(self).calls += 1
        raise smtplib.SMTPServerDisconnected(
            "Connection unexpectedly closed while sending to bob@example.com"
        )


class RefusingServerBackend(BaseEmailBackend):
    """The mail server refuses the recipient: a permanent failure."""

    def send_messages(self, messages):
        recipients = {m.to[0]: (550, b"5.1.1 mailbox unavailable") for m in messages}
        raise smtplib.SMTPRecipientsRefused(recipients)


class HookBackend(LocmemBackend):
    """Locmem delivery that first runs `HookBackend.during_send()` (set by the test)."""

    during_send = None

    def send_messages(self, messages):
        if type(self).during_send is not None:
            type(self).during_send()
        return super().send_messages(messages)
