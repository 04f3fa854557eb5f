"""Reminder run for 1,000 and 10,000 learners: SQL queries per run and time per learner.

Standalone: `.venv/bin/python bench/reminders_bench.py [sizes...] [--database-url URL]`.
Each size gets its own temporary SQLite database (migrated from scratch) unless a
--database-url is given (then the tables are emptied first: use a scratch database).
Learners are spread over eight time zones (UTC+13 to UTC-10, a :30 and a :45 offset),
each with 20 cards due and an answer history of 5 timed answers; the run happens at an
instant where every zone has reached its learners' chosen hour. Mail goes to Django's
locmem backend, so the figures are the app's own cost (selection, claims, rendering two
templates per email, recording), not an SMTP server's. Prints, per size: queries of the
run, wall time, milliseconds per learner, and the time of the selection+claim phase alone
(the dry-run `explain`, which reads the same annotated rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZONES = (
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Europe/Paris",
    "UTC",
    "America/New_York",
    "Pacific/Honolulu",
)
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)
DUE_PER_LEARNER = 20
ANSWERS_PER_LEARNER = 5


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "0"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django

    django.setup()


def build(size: int) -> None:
    """`size` learners over ZONES, hour 0 (reached everywhere), each with DUE_PER_LEARNER due cards."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from cards.accounts.models import Profile
    from cards.models import Card, Deck
    from cards.review.models import ReviewLog, ReviewState

    User = get_user_model()  # noqa: N806 (a class)
    deck = Deck.objects.create(slug="bench", title="Bench")
    cards = Card.objects.bulk_create(
        Card(deck=deck, key=f"c{i}", question=f"Why does call {i} block the event loop?", answer="A.", position=i)
        for i in range(DUE_PER_LEARNER)
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        (User(username=f"bench{i}", email=f"bench{i}@example.com", password=password) for i in range(size)),
        batch_size=2000,
    )
    Profile.objects.bulk_create(
        (
            Profile(user=user, timezone=ZONES[i % len(ZONES)], reminder_hour=0, reminders_enabled=True)
            for i, user in enumerate(users)
        ),
        batch_size=2000,
    )
    ReviewState.objects.bulk_create(
        (ReviewState(user=user, card=card, due_on=dt.date(2026, 1, 1)) for user in users for card in cards),
        batch_size=5000,
    )
    ReviewLog.objects.bulk_create(
        (
            ReviewLog(
                user=user,
                card=cards[j],
                source="review",
                quality=4,
                before={},
                after={},
                reviewed_on=dt.date(2026, 1, 19),
                answered_at=NOW - dt.timedelta(days=1, minutes=j),
                duration_ms=8000 + 1000 * j,
            )
            for user in users
            for j in range(ANSWERS_PER_LEARNER)
        ),
        batch_size=5000,
    )


def measure(size: int) -> dict:
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cards.reminders.sending import explain, send_due_reminders

    build(size)
    started = time.perf_counter()
    decisions, _ = explain(NOW)
    explain_s = time.perf_counter() - started
    assert sum(d.sends for d in decisions) == size

    mail.outbox = []
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = send_due_reminders(NOW)
        run_s = time.perf_counter() - started
    assert len(report.sent) == size == len(mail.outbox), (len(report.sent), len(mail.outbox))
    return {
        "size": size,
        "queries": len(queries.captured_queries),
        "run_s": run_s,
        "ms_per_user": 1000 * run_s / size,
        "select_s": explain_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--database-url", help="Use this (scratch!) database instead of a temporary SQLite file.")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        # One process per size: Django is set up once per process, against that size's database.
        url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='reminders-bench-')}/db.sqlite3"
        pid = os.fork()
        if pid == 0:
            setup_django(url)
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            if args.database_url:
                call_command("flush", interactive=False, verbosity=0)
            result = measure(size)
            print(
                f"{result['size']:>6} learners: {result['queries']:>3} queries, run {result['run_s']:.2f} s,"
                f" {result['ms_per_user']:.2f} ms per learner (selection alone {result['select_s']:.2f} s)",
                flush=True,
            )
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        results.append(status)
    sys.exit(1 if any(results) else 0)


if __name__ == "__main__":
    main()
