"""Helpers for the reminder tests: learners with due cards, instants, and a mail backend that fails."""

from __future__ import annotations

import datetime as dt
import itertools
import smtplib
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from cards.models import Card, Challenge, Deck, Profile, ReminderSend, ReviewState

_seq = itertools.count(1)


def utc(*args: int) -> dt.datetime:
    """An aware UTC instant: utc(2026, 1, 15, 19)."""
    return dt.datetime(*args, tzinfo=dt.UTC)


def make_deck() -> Deck:
    n = next(_seq)
    return Deck.objects.create(slug=f"reminder-deck-{n}", title=f"Reminder deck {n}")


QUESTION = "What does the event loop do? ({i})"


def make_cards(count: int, deck: Deck | None = None, question: str = QUESTION) -> list[Card]:
    """`count` cards in one deck, created in one query."""
    deck = deck or make_deck()
    start = next(_seq) * 1000
    return Card.objects.bulk_create(
        Card(deck=deck, key=f"r{start + i}", question=question.format(i=i), answer="A.", position=start + i)
        for i in range(count)
    )


def make_learner(
    *,
    zone: str = "UTC",
    hour: int = 8,
    due: int = 1,
    due_on: dt.date | None = None,
    email: str | None = None,
    reminder_email: str = "",
    enabled: bool = True,
    cards: list[Card] | None = None,
) -> AbstractBaseUser:
    """A learner with a profile and `due` review states due on `due_on` (default: long ago)."""
    n = next(_seq)
    user = get_user_model().objects.create_user(
        username=f"rem{n}", email=f"rem{n}@example.com" if email is None else email
    )
    Profile.objects.create(
        user=user, timezone=zone, reminder_hour=hour, reminders_enabled=enabled, reminder_email=reminder_email
    )
    cards = cards if cards is not None else make_cards(due)
    ReviewState.objects.bulk_create(
        ReviewState(user=user, card=card, due_on=due_on or dt.date(2020, 1, 1), interval=1, repetitions=1)
        for card in cards[:due]
    )
    return user


def make_learners(count: int, *, zone: str = "UTC", hour: int = 8, due: int = 2) -> list[AbstractBaseUser]:
    """`count` learners sharing `due` cards (fewer queries than make_learner in a loop)."""
    cards = make_cards(due)
    return [make_learner(zone=zone, hour=hour, due=due, cards=cards) for _ in range(count)]


def make_challenge_card(user: AbstractBaseUser, due_on: dt.date) -> Challenge:
    """A challenge whose practice card is due for `user`."""
    (card,) = make_cards(1, question="Write get_data without blocking the loop")
    challenge = Challenge.objects.create(
        slug=f"challenge-{next(_seq)}",
        title="Blocking call",
        prompt="p",
        reference_solution="pass",
        grader_kind="blocking",
        practice_card=card,
    )
    ReviewState.objects.create(user=user, card=card, due_on=due_on)
    return challenge


def claim_without_sending(user: AbstractBaseUser, local_date: dt.date, claimed_at: dt.datetime) -> ReminderSend:
    """The row a run leaves when it dies between claiming and sending."""
    return ReminderSend.objects.create(
        user=user, local_date=local_date, claimed_at=claimed_at, claim_token=uuid.uuid4(), due_count=1
    )


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
