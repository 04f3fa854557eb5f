"""A plausible month of study for the browser tests of /stats/ (figures are not checked on it: layout is)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from cards.challenges.models import Submission
from cards.review.models import ReviewLog, ReviewState
from tests.factories import make_card, make_challenge, make_submission

CONCEPTS = ("event-loop", "gil", "asyncio-tasks", "threads-vs-processes", "cancellation", "backpressure")


def month_of_history(user: AbstractBaseUser, today: dt.date, *, days: int = 34, seed: int = 13) -> None:
    """About 20 answers a day on 48 cards of six concepts (a few days missed), and three challenges."""
    rng = random.Random(seed)
    cards = [make_card(tags=[CONCEPTS[i % len(CONCEPTS)]]) for i in range(48)]
    zone = user.profile.zone()
    logs = []
    for offset in range(days, 0, -1):
        day = today - dt.timedelta(days=offset)
        if rng.random() < 0.15:
            continue
        for n in range(rng.randint(8, 30)):
            card = rng.choice(cards)
            at = dt.datetime.combine(day, dt.time(19, 0), tzinfo=zone) + dt.timedelta(seconds=40 * n)
            interval = rng.choice((0, 1, 1, 3, 6, 6, 15, 25, 40))
            quality = rng.choices(range(6), weights=(2, 3, 5, 15, 40, 35))[0]
            before = {
                "repetitions": 2, "easiness": "2.50", "interval": interval, "due_on": day.isoformat(),
                "last_reviewed_on": None if interval == 0 else (day - dt.timedelta(days=interval)).isoformat(),
            }  # fmt: skip
            logs.append(
                ReviewLog(
                    user=user,
                    card=card,
                    source="review",
                    quality=quality,
                    before=before,
                    after=before,
                    reviewed_on=day,
                    answered_at=at,
                    duration_ms=rng.randint(4000, 40000),
                )  # fmt: skip
            )
            if quality < 4:
                logs.append(
                    ReviewLog(
                        user=user,
                        card=card,
                        source="redrill",
                        quality=4,
                        before=before,
                        after=before,
                        reviewed_on=day,
                        answered_at=at + dt.timedelta(seconds=20),
                        duration_ms=6000,
                    )  # fmt: skip
                )
    ReviewLog.objects.bulk_create(logs)
    ReviewState.objects.bulk_create(
        ReviewState(
            user=user,
            card=card,
            repetitions=3,
            interval=rng.choice((1, 3, 6, 15, 25, 40, 90)),
            easiness=Decimal(rng.choice(("1.30", "1.96", "2.22", "2.36", "2.50", "2.60", "2.70", "2.80"))),
            due_on=today + dt.timedelta(days=rng.randint(-2, 35)),
            last_reviewed_on=today - dt.timedelta(days=1),
        )  # fmt: skip
        for card in cards
    )
    now = dt.datetime.now(dt.UTC)
    for number, title in enumerate(("The blocking call", "Gather with a limit", "Threads or processes")):
        challenge = make_challenge(title=title, position=number)
        for attempt in range(3 - number):
            passed = attempt == 2 - number and number < 2
            submission = make_submission(
                user=user, challenge=challenge, status=Submission.Status.GRADED, passed=passed,
                quality=4 if passed else 2,
            )  # fmt: skip
            at = now - dt.timedelta(days=20 - 5 * number, hours=3 * (2 - attempt))
            Submission.objects.filter(pk=submission.pk).update(created_at=at)
