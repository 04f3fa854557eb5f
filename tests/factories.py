"""The model factories of every test: each makes rows and returns them.

One behaviour for all of them: keyword arguments only, every field the test does not care
about filled in with a sensible default, and unique values (usernames, slugs, keys) drawn
from one counter, so two calls in one test never collide. Any keyword the model knows goes
straight to it: `make_user(email="ada@example.com", timezone="Asia/Tokyo")` (Profile fields
go to the user's Profile), `make_card(deck=deck, position=3)`.

Helpers that make no rows live elsewhere: tests/mail_helpers.py (mail backends, an SMTP
inbox), tests/time_helpers.py, tests/csv_helpers.py, tests/sandbox_helpers.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission

from cards.accounts.models import Profile
from cards.challenges.models import Challenge, Submission
from cards.models import Card, Deck, Tag
from cards.reminders.models import ReminderSend
from cards.review.models import ReviewLog, ReviewState
from tests import challenges_graders

_seq = itertools.count(1)

# Every user made here has this password unless the test gives another (password=None: no usable
# password). tests/conftest.py hashes with MD5 in tests, so setting one costs nothing.
PASSWORD = "correct-horse-battery-staple"  # noqa: S105 (test fixture)
# Answers the tests' marker grader (tests/challenges_graders.py) passes and fails.
PASSING = "PASS\n"
FAILING = "FAIL\n"

_PROFILE_FIELDS = frozenset(field.name for field in Profile._meta.concrete_fields) - {"id", "user"}


def make_user(*, password: str | None = PASSWORD, **kwargs: object) -> AbstractBaseUser:
    """A user with a Profile; Profile fields (timezone, new_cards_per_day, reminder_hour, ...) go to it.

    The username is unique unless given; the email is empty unless given.
    """
    profile_fields = {key: kwargs.pop(key) for key in list(kwargs) if key in _PROFILE_FIELDS}
    kwargs.setdefault("username", f"user{next(_seq)}")
    user = get_user_model().objects.create_user(password=password, **kwargs)
    Profile.objects.create(user=user, **profile_fields)
    return user


def make_superuser(**kwargs: object) -> AbstractBaseUser:
    """A superuser (staff, every permission), otherwise as make_user."""
    return make_user(is_staff=True, is_superuser=True, **kwargs)


def make_staff(*, permissions: Sequence[str] = (), **kwargs: object) -> AbstractBaseUser:
    """Staff with only the given permission codenames (e.g. permissions=["view_card"])."""
    user = make_user(is_staff=True, **kwargs)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return user


def make_deck(**kwargs: object) -> Deck:
    n = next(_seq)
    kwargs.setdefault("slug", f"deck-{n}")
    kwargs.setdefault("title", f"Deck {n}")
    return Deck.objects.create(**kwargs)


def make_card(*, tags: Sequence[str] = (), **kwargs: object) -> Card:
    """A card (in a new deck unless `deck` is given), introduced after every card made before it."""
    n = next(_seq)
    if "deck" not in kwargs:
        kwargs["deck"] = make_deck()
    kwargs.setdefault("key", f"card-{n}")
    kwargs.setdefault("question", f"Question {n}?")
    kwargs.setdefault("answer", f"Answer {n}.")
    kwargs.setdefault("position", n)
    card = Card.objects.create(**kwargs)
    if tags:
        card.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
    return card


def make_cards(
    count: int, *, deck: Deck | None = None, question: str = "Question {i}?", answer: str = "Answer {i}.", **kwargs
) -> list[Card]:
    """`count` cards in one deck (a new one unless given), positions 1..count, made in one query.

    `question` and `answer` may hold `{i}`, the card's number (1..count).
    """
    deck = deck or make_deck()
    n = next(_seq)
    return Card.objects.bulk_create(
        Card(
            deck=deck,
            key=f"c{n}-{i}",
            question=question.format(i=i),
            answer=answer.format(i=i),
            position=i,
            **kwargs,
        )
        for i in range(1, count + 1)
    )


def make_state(**kwargs: object) -> ReviewState:
    """A review state of `user` (a new user unless given) on `card` (a new card), due today (UTC) unless told."""
    if "user" not in kwargs:
        kwargs["user"] = make_user()
    if "card" not in kwargs:
        kwargs["card"] = make_card()
    kwargs.setdefault("due_on", dt.datetime.now(dt.UTC).date())
    return ReviewState.objects.create(**kwargs)


def make_learner(
    *, due: int = 1, due_on: dt.date | None = None, cards: list[Card] | None = None, **kwargs: object
) -> AbstractBaseUser:
    """A learner with an email address, reminders on, and `due` cards due on `due_on` (default: long ago).

    Other keywords go to make_user (e.g. timezone="Pacific/Auckland", reminder_hour=8, email="").
    """
    kwargs.setdefault("username", f"learner{next(_seq)}")
    kwargs.setdefault("email", f"{kwargs['username']}@example.com")
    kwargs.setdefault("reminders_enabled", True)  # as a learner who asked for them at sign-up
    user = make_user(**kwargs)
    cards = cards if cards is not None else make_cards(due)
    ReviewState.objects.bulk_create(
        ReviewState(user=user, card=card, due_on=due_on or dt.date(2020, 1, 1), interval=1, repetitions=1)
        for card in cards[:due]
    )
    return user


def make_learners(count: int, *, due: int = 2, **kwargs: object) -> list[AbstractBaseUser]:
    """`count` learners sharing `due` cards (fewer queries than make_learner in a loop)."""
    cards = make_cards(due)
    return [make_learner(due=due, cards=cards, **kwargs) for _ in range(count)]


def make_challenge(**kwargs: object) -> Challenge:
    """A challenge graded by the tests' marker grader, with its practice card in the "challenges" deck.

    PASSING passes it and FAILING (its starter) fails it; practice_card=None for none.
    """
    slug = kwargs.setdefault("slug", f"challenge-{next(_seq)}")
    if "practice_card" not in kwargs:
        deck, _ = Deck.objects.get_or_create(slug="challenges", defaults={"title": "Challenges"})
        kwargs["practice_card"] = make_card(deck=deck, key=slug, question=f"Challenge {slug}", answer="Solve it.")
    kwargs.setdefault("title", str(slug).replace("-", " ").title())
    kwargs.setdefault("prompt", "Write `get_data`.\n\n```python\nasync def get_data(url): ...\n```")
    kwargs.setdefault("starter_code", FAILING)
    kwargs.setdefault("reference_solution", PASSING)
    kwargs.setdefault("grader_kind", challenges_graders.KIND)
    return Challenge.objects.create(**kwargs)


def make_submission(**kwargs: object) -> Submission:
    """A queued submission of `code` (PASSING unless given) by `user` to `challenge` (new ones unless given)."""
    if "user" not in kwargs:
        kwargs["user"] = make_user()
    if "challenge" not in kwargs:
        kwargs["challenge"] = make_challenge()
    kwargs.setdefault("code", PASSING)
    kwargs.setdefault("status", Submission.Status.QUEUED)
    return Submission.objects.create(**kwargs)


def make_due_challenge(*, user: AbstractBaseUser, due_on: dt.date) -> Challenge:
    """A challenge whose practice card is due for `user` on `due_on`."""
    card = make_card(question="Write get_data without blocking the loop")
    challenge = make_challenge(
        title="Blocking call", prompt="p", starter_code="", reference_solution="pass", grader_kind="blocking",
        practice_card=card,
    )  # fmt: skip
    make_state(user=user, card=card, due_on=due_on)
    return challenge


def make_unsent_claim(*, user: AbstractBaseUser, local_date: dt.date, claimed_at: dt.datetime) -> ReminderSend:
    """The row a reminder run leaves when it dies between claiming and sending."""
    return ReminderSend.objects.create(
        user=user, local_date=local_date, claimed_at=claimed_at, claim_token=uuid.uuid4(), due_count=1
    )


def settings_form(**fields: str | None) -> dict[str, str]:
    """What the Settings form posts, as a browser sends it; a field given as None is left out."""
    data = {
        "timezone": "UTC", "new_cards_per_day": "20", "new_card_order": "reviews_first", "reminder_hour": "8",
        "reminder_email": "",
    }  # fmt: skip
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def make_review_log(
    *,
    user: AbstractBaseUser,
    card: Card,
    at: dt.datetime,
    quality: int | None = 4,
    source: str = ReviewLog.Source.REVIEW,
    interval_before: int = 1,
    new: bool = False,
    duration_ms: int | None = None,
    day: dt.date | None = None,
) -> ReviewLog:
    """A row of `user`'s review log for `card`, answered at `at` (aware) on the learner's local date of it.

    `day` sets the study day instead. The state before the answer is a new card's (never reviewed,
    interval 0) when `new`, otherwise one reviewed `interval_before` days before `day`. The state
    after is a plausible one; the stats read only the state before.
    """
    day = day or at.astimezone(user.profile.zone()).date()
    before = {
        "repetitions": 0 if new else 2,
        "easiness": "2.50",
        "interval": 0 if new else interval_before,
        "due_on": day.isoformat(),
        "last_reviewed_on": None if new else (day - dt.timedelta(days=interval_before)).isoformat(),
        "last_answered_at": None,
        "redrill": False,
        "version": 1,
    }
    after = {**before, "interval": max(1, before["interval"]), "last_reviewed_on": day.isoformat(), "version": 2}
    return ReviewLog.objects.create(
        user=user, card=card, source=source, quality=quality, before=before, after=after, reviewed_on=day,
        answered_at=at, duration_ms=duration_ms,
    )  # fmt: skip


def make_undo_log(*, undone: ReviewLog, at: dt.datetime | None = None) -> ReviewLog:
    """The undo row that takes back `undone` (a second later, the same study day, unless `at` is given)."""
    return ReviewLog.objects.create(
        user=undone.user, card=undone.card, source=ReviewLog.Source.UNDO, quality=None, undoes=undone,
        before=undone.after, after=undone.before, reviewed_on=undone.reviewed_on,
        answered_at=at or undone.answered_at + dt.timedelta(seconds=1),
    )  # fmt: skip
