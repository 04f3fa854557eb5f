"""Time of the review step (answer a card + render the next one) at 1,000 and 100,000 cards for one user.

Standalone: `.venv/bin/python bench/review_step_bench.py [sizes...] [--steps N]`. Each size gets its
own temporary SQLite database (migrated from scratch), one learner whose schedule holds every card
(half of them due today, one re-drill pending) plus a few new cards, and then N review steps
through the real view with htmx headers, as the browser sends them. Prints the median and 90th
percentile per step, the SQL queries per step, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
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

    from cards import review
    from cards.models import Card, Deck, Profile, ReviewState

    user = get_user_model().objects.create_user(username="bench")
    profile = Profile.objects.create(user=user, new_cards_per_day=20)
    today = review.local_today(profile)
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


def run(size: int, steps: int) -> dict:
    """Build a fresh database of `size` cards and time `steps` review steps."""
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from cards import review

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    user = build(size)
    build_s = time.perf_counter() - started
    # The review step touches no cache; a local one keeps the bench free of a Redis server.
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        client = Client()
        client.force_login(user)
        page = client.get("/review/")
        assert page.status_code == 200, page.status_code
        state = review.session_for(user).next.state
        timings, queries = [], []
        for _ in range(steps):
            fields = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                t0 = time.perf_counter()
                response = client.post("/review/answer/", fields, HTTP_HX_REQUEST="true")
                timings.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.status_code
            queries.append(len(captured))
            state = review.session_for(user).next.state
    timings.sort()
    return {
        "size": size,
        "build_s": build_s,
        "median_ms": statistics.median(timings) * 1000,
        "p90_ms": timings[int(len(timings) * 0.9) - 1] * 1000,
        "queries": sorted(set(queries)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 100_000])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    if len(args.sizes) > 1:
        # One process per size: a fresh database (and a fresh Django) each, run one after the other.
        import subprocess

        results = []
        for size in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, str(size), "--steps", str(args.steps)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            print(out, end="")
            results.append(float(out.split("median=")[1].split("ms")[0]))
        print(f"ratio median({args.sizes[-1]}) / median({args.sizes[0]}) = {results[-1] / results[0]:.2f}")
        return
    size = args.sizes[0]
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        result = run(size, args.steps)
    print(
        f"cards={result['size']:>7} steps={args.steps} median={result['median_ms']:.2f}ms "
        f"p90={result['p90_ms']:.2f}ms queries/step={result['queries']} (built in {result['build_s']:.1f}s)"
    )


if __name__ == "__main__":
    main()
