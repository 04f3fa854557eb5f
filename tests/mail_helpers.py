"""Mail for the tests: backends that fail like a real server does, and an SMTP server's inbox."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FailAfterBackend(LocmemBackend):
    """A real backend (locmem) that delivers `limit` messages, then fails like a server that hangs up.

    Tests set FailAfterBackend.limit; the count is per class, across connections, as
    a server going down mid-batch would be.
    """

    limit = 0
    delivered = 0

    def send_messages(self, messages: list) -> int:
        sent = 0
        for message in messages:
            if FailAfterBackend.delivered >= FailAfterBackend.limit:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            sent += super().send_messages([message])
            FailAfterBackend.delivered += 1
        return sent


class RefuseAddressBackend(LocmemBackend):
    """Delivers everything except to addresses starting with 'bounce', which the server refuses."""

    def send_messages(self, messages: list) -> int:
        for message in messages:
            if any(address.startswith("bounce") for address in message.to):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"No such user")})
        return super().send_messages(messages)


class Inbox:
    """aiosmtpd handler keeping every message the server accepts."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"
