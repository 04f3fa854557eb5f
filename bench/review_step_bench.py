"""Time of the review step (answer a card + render the next one) at 1,000 and 100,000 cards for one user.

Standalone: `.venv/bin/python bench/review_step_bench.py [sizes...] [--steps N] [--rounds R]`.
Each size gets its own temporary SQLite database (migrated from scratch) holding one learner
whose schedule has every card (half of them due today, one re-drill pending) plus a few new
cards. Then R rounds alternate between the sizes, each timing N review steps (answer + next
card rendered) through the real view with htmx headers, as the browser sends them, so a busy
machine weighs on both sizes alike. Prints the median and 90th percentile per step, the SQL
queries per step, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django

    django.setup()


def build(size: int, new_cards: int = 5):
    """One learner with `size` scheduled cards (half due today) and `new_cards` unseen ones."""
    from django.contrib.auth import get_user_model

    from cards.accounts.models import Profile
    from cards.models import Card, Deck
    from cards.review import queue
    from cards.review.models import ReviewState

    user = get_user_model().objects.create_user(username="bench")
    profile = Profile.objects.create(user=user, new_cards_per_day=20)
    today = queue.local_today(profile)
    deck = Deck.objects.create(slug="bench", title="Bench")
    Card.objects.bulk_create(
        (
            Card(deck=deck, key=f"c{i}", question=f"Question {i}?", answer=f"Answer {i}.", position=i)
            for i in range(size + new_cards)
        ),
        batch_size=5000,
    )
    card_ids = list(Card.objects.order_by("position").values_list("id", flat=True)[:size])
    ReviewState.objects.bulk_create(
        (
            ReviewState(
                user=user,
                card_id=card_id,
                repetitions=2,
                interval=6,
                due_on=today if i % 2 else today + dt.timedelta(days=1 + i % 60),
                last_reviewed_on=today - dt.timedelta(days=6),
                introduced_on=today - dt.timedelta(days=30),
                redrill=False,
            )
            for i, card_id in enumerate(card_ids)
        ),
        batch_size=5000,
    )
    ReviewState.objects.filter(user=user, card_id=card_ids[0]).update(
        redrill=True, last_reviewed_on=today, due_on=today + dt.timedelta(days=1)
    )
    return user


def measure(steps: int) -> list[float]:
    """Time `steps` review steps for the bench learner; return the seconds of each."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from cards.review import queue

    user = get_user_model().objects.get(username="bench")
    timings = []
    # The review step touches no cache; a local one keeps the bench free of a Redis server.
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        client = Client()
        client.force_login(user)
        assert client.get("/review/").status_code == 200
        queries = set()
        for _ in range(steps):
            state = queue.session_for(user).next.state
            fields = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
            with CaptureQueriesContext(connection) as captured:
                t0 = time.perf_counter()
                response = client.post("/review/answer/", fields, HTTP_HX_REQUEST="true")
                timings.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.status_code
            queries.add(len(captured))
    print(json.dumps({"timings": timings, "queries": sorted(queries)}))
    return timings


def child(args: argparse.Namespace) -> None:
    """One subprocess: build the database of one size, or time steps on it."""
    setup_django(Path(args.db))
    if args.build:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        build(args.build)
    else:
        measure(args.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 100_000])
    parser.add_argument("--steps", type=int, default=50, help="review steps per round and size")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, alternating sizes (evens out machine load)")
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db:
        child(args)
        return

    def run_child(*extra: str) -> str:
        command = [sys.executable, __file__, *extra]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        dbs = {}
        for size in args.sizes:
            dbs[size] = str(Path(tmp) / f"cards-{size}.sqlite3")
            started = time.perf_counter()
            run_child("--db", dbs[size], "--build", str(size))
            print(f"built {size:>7} cards in {time.perf_counter() - started:.1f}s", flush=True)
        timings: dict[int, list[float]] = {size: [] for size in args.sizes}
        queries: dict[int, set[int]] = {size: set() for size in args.sizes}
        for _ in range(args.rounds):
            for size in args.sizes:
                out = json.loads(run_child("--db", dbs[size], "--steps", str(args.steps)).splitlines()[-1])
                timings[size] += out["timings"]
                queries[size].update(out["queries"])
    medians = {}
    for size in args.sizes:
        ordered = sorted(timings[size])
        medians[size] = statistics.median(ordered) * 1000
        p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)] * 1000
        print(
            f"cards={size:>7} steps={len(ordered)} median={medians[size]:.2f}ms p90={p90:.2f}ms "
            f"queries/step={sorted(queries[size])}"
        )
    first, last = args.sizes[0], args.sizes[-1]
    print(f"ratio median({last}) / median({first}) = {medians[last] / medians[first]:.2f}")


if __name__ == "__main__":
    main()
