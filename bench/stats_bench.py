"""Server time of /stats/ for a learner with 1,000 and with 100,000 review-log rows, on PostgreSQL.

    .venv/bin/python bench/stats_bench.py [--database-url postgres://...] [sizes...] [--rounds R] [--requests N]

Builds (once; `--rebuild` to start again) in the given database, created if missing: 10,000 cards of
20 concepts, and one learner per size ("stats-bench-<rows>") whose log has that many rows over the
last two years (reviews, re-drills, undone answers with their undo rows, imports, challenge verdicts)
and a state for every card it has met (rows / 10, at most the 10,000 cards), plus a few challenge
attempts. Then R rounds alternate between the sizes, each timing N GET /stats/ through the whole
Django stack (middleware, view, queries, template) in this process, so a busy machine weighs on
both sizes alike. Prints the median and 90th percentile, the queries per page, the ratio of the
medians and whether the targets hold (issue 13: at most 150 ms at 100,000 rows, ratio at most 1.5).
First checks that the day rollup the page reads (cards/stats/models.py) equals the log's aggregate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import ensure_database  # noqa: E402 (after the path is set)

DEFAULT_URL = "postgres://studyapp:studyapp@127.0.0.1:5432/studyapp_stats_bench"
CARDS = 10_000
CONCEPTS = 20
DAYS = 730
TARGET_MS = 150  # issue 13: the page at 100,000 rows, server time
TARGET_RATIO = 1.5  # ... and against 1,000 rows


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django

    django.setup()


def build_cards() -> list[int]:
    from cards.models import Card, Deck, Tag

    deck, created = Deck.objects.get_or_create(slug="stats-bench", defaults={"title": "Stats bench"})
    if not created and deck.cards.count() == CARDS:
        return list(deck.cards.order_by("position").values_list("id", flat=True))
    deck.cards.all().delete()
    tags = [Tag.objects.get_or_create(name=f"bench-concept-{i}")[0] for i in range(CONCEPTS)]
    cards = Card.objects.bulk_create(
        (Card(deck=deck, key=f"c{i}", question=f"Q {i}?", answer=f"A {i}.", position=i) for i in range(CARDS)),
        batch_size=5000,
    )
    through = Card.tags.through
    through.objects.bulk_create(
        (through(card_id=card.id, tag_id=tags[i % CONCEPTS].id) for i, card in enumerate(cards)), batch_size=5000
    )
    return [card.id for card in cards]


def build_learner(rows: int, card_ids: list[int]) -> None:
    """One learner with `rows` log rows over DAYS days on rows // 10 cards, and their states."""
    from django.contrib.auth import get_user_model

    from cards.accounts.models import Profile
    from cards.challenges.models import Challenge, Submission
    from cards.review.models import ReviewLog, ReviewState

    rng = random.Random(rows)
    username = f"stats-bench-{rows}"
    get_user_model().objects.filter(username=username).delete()
    user = get_user_model().objects.create_user(username=username)
    profile = Profile.objects.create(user=user, timezone="Europe/Paris")
    today = profile.today(dt.datetime.now(dt.UTC))
    zone = profile.zone()
    met = card_ids[: max(1, min(len(card_ids), rows // 10))]
    ReviewState.objects.bulk_create(
        (
            ReviewState(
                user=user,
                card_id=card_id,
                repetitions=rng.randint(1, 8),
                interval=rng.choice((1, 3, 6, 15, 30, 90)),
                easiness=rng.choice(("1.30", "1.96", "2.36", "2.50", "2.60", "2.80")),
                due_on=today + dt.timedelta(days=rng.randint(-5, 60)),
                last_reviewed_on=today - dt.timedelta(days=1),
            )  # fmt: skip
            for card_id in met
        ),
        batch_size=5000,
    )
    logs, undone = [], []
    while len(logs) + len(undone) < rows:  # `rows` in all: answers, and the undo rows of the undone ones
        n = len(logs) + len(undone)
        day = today - dt.timedelta(days=int(DAYS * n / rows))
        at = dt.datetime.combine(day, dt.time(8), tzinfo=zone) + dt.timedelta(seconds=n % 40000)
        interval = rng.choice((0, 1, 3, 6, 15, 30, 90))
        before = {
            "repetitions": 2, "easiness": "2.50", "interval": interval, "due_on": day.isoformat(),
            "last_reviewed_on": None if interval == 0 else (day - dt.timedelta(days=interval)).isoformat(),
            "last_answered_at": None, "redrill": False, "version": 1,
        }  # fmt: skip
        roll = rng.random()
        source = "redrill" if roll < 0.10 else "import" if roll < 0.11 else "challenge" if roll < 0.13 else "review"
        log = ReviewLog(
            user=user, card_id=rng.choice(met), source=source, quality=rng.randint(0, 5), before=before,
            after=before, reviewed_on=day, answered_at=at, duration_ms=rng.randint(3000, 60000),
        )  # fmt: skip
        logs.append(log)
        if source == "review" and rng.random() < 0.02 and n + 2 <= rows:
            undone.append(log)
    ReviewLog.objects.bulk_create(logs, batch_size=5000)
    ReviewLog.objects.bulk_create(
        (
            ReviewLog(
                user=user,
                card_id=log.card_id,
                source="undo",
                undoes=log,
                before=log.after,
                after=log.before,
                reviewed_on=log.reviewed_on,
                answered_at=log.answered_at + dt.timedelta(seconds=1),
            )  # fmt: skip
            for log in undone
        ),
        batch_size=5000,
    )
    for i in range(5):
        challenge, _ = Challenge.objects.get_or_create(
            slug=f"stats-bench-{i}", defaults={"title": f"Bench {i}", "prompt": "p", "reference_solution": "pass",
                                               "grader_kind": "bench"},
        )  # fmt: skip
        for attempt in range(3):
            Submission.objects.create(user=user, challenge=challenge, code="pass", status="graded",
                                      passed=attempt == 2)  # fmt: skip


def measure(sizes: list[int], rounds: int, requests: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from cards.review.models import ReviewLog

    users = {size: get_user_model().objects.get(username=f"stats-bench-{size}") for size in sizes}
    for user in users.values():
        print(f"learner {user.username}: {ReviewLog.objects.filter(user=user).count():,} log rows, "
              f"{user.review_states.count():,} states")  # fmt: skip
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    queries: dict[int, set[int]] = {size: set() for size in sizes}
    # The page touches no cache; a local one keeps the bench free of a Redis server.
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        clients = {}
        for size, user in users.items():
            clients[size] = Client()
            clients[size].force_login(user)
            for _ in range(3):  # warm-up: connections, templates, the study day's once-a-day UPDATE
                assert clients[size].get("/stats/").status_code == 200
        for _ in range(rounds):
            for size in sizes:
                for _ in range(requests):
                    with CaptureQueriesContext(connection) as captured:
                        started = time.perf_counter()
                        response = clients[size].get("/stats/")
                        timings[size].append(time.perf_counter() - started)
                    assert response.status_code == 200, response.status_code
                    queries[size].add(len(captured))
    medians = {}
    for size in sizes:
        ordered = sorted(timings[size])
        medians[size] = statistics.median(ordered) * 1000
        p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)] * 1000
        print(f"rows={size:>7} pages={len(ordered)} median={medians[size]:.1f}ms p90={p90:.1f}ms "
              f"queries/page={sorted(queries[size])}")  # fmt: skip
    first, last = sizes[0], sizes[-1]
    ratio = medians[last] / medians[first]
    print(f"ratio median({last}) / median({first}) = {ratio:.2f}")
    print(f"target: median at {last:,} rows <= {TARGET_MS} ms: {'met' if medians[last] <= TARGET_MS else 'NOT MET'}; "
          f"ratio <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT MET'}")  # fmt: skip


def check_rollup(sizes: list[int]) -> None:
    """The day rollup the page reads equals what the bench learners' log gives (the migration's own aggregate)."""
    import importlib

    from django.db import connection

    from cards.stats.models import DayRollup

    migration = importlib.import_module("cards.stats.migrations.0001_day_rollup")
    with connection.cursor() as cursor:
        cursor.execute(migration.aggregate_log(connection.vendor))
        from_log = {(row[0], row[1]): tuple(row[2:]) for row in cursor.fetchall()}
    stored = {
        (row[0], row[1]): tuple(row[2:]) for row in DayRollup.objects.values_list("user_id", "day", *DayRollup.COUNTERS)
    }
    assert stored == from_log, "the day rollup differs from the log"
    print(f"day rollup: {len(stored):,} rows, equal to the log's aggregate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 100_000])
    parser.add_argument("--database-url", default=os.environ.get("STATS_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rounds", type=int, default=5, help="rounds, alternating sizes (evens out machine load)")
    parser.add_argument("--requests", type=int, default=10, help="pages per round and size")
    parser.add_argument("--rebuild", action="store_true", help="build the learners again even if they exist")
    args = parser.parse_args()

    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    card_ids = build_cards()
    for size in args.sizes:
        user = get_user_model().objects.filter(username=f"stats-bench-{size}").first()
        if args.rebuild or user is None or user.review_logs.count() < size:
            started = time.perf_counter()
            build_learner(size, card_ids)
            print(f"built the learner with {size:,} rows in {time.perf_counter() - started:.1f}s", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"database: {connection.vendor}, {connection.settings_dict['NAME']}")
    check_rollup(args.sizes)
    measure(args.sizes, args.rounds, args.requests)


if __name__ == "__main__":
    main()
