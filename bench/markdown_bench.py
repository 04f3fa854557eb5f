"""Cost of rendering card Markdown (Markdown + Pygments + nh3), cold and cached, over the seed deck.

Standalone: `.venv/bin/python bench/markdown_bench.py [--rounds N]`. Renders every question
and answer of cards/seed/*.toml: first uncached (the cache cleared before each text, so
each figure is a full Markdown, Pygments and nh3 pass), then cached (what a review page
pays for a card it has shown before). Prints milliseconds per text (median and max over
texts, cold) and microseconds per cached call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="cold passes over the deck (best per text is kept)")
    args = parser.parse_args()

    import django

    django.setup()
    from cards.seed_loader import read_seed, seed_files
    from studyapp.markdown import render_markdown

    texts = [text for path in seed_files() for card in read_seed(path).cards for text in (card.question, card.answer)]
    with_code = sum("```" in text for text in texts)

    cold: list[float] = []
    for text in texts:
        best = float("inf")
        for _ in range(args.rounds):
            render_markdown.cache_clear()
            start = time.perf_counter()
            render_markdown(text)
            best = min(best, time.perf_counter() - start)
        cold.append(best * 1000)

    render_markdown.cache_clear()
    for text in texts:
        render_markdown(text)
    calls = 200
    start = time.perf_counter()
    for _ in range(calls):
        for text in texts:
            render_markdown(text)
    cached_us = (time.perf_counter() - start) / (calls * len(texts)) * 1e6

    print(f"texts: {len(texts)} ({with_code} with code fences)")
    print(f"cold render: median {statistics.median(cold):.2f} ms, max {max(cold):.2f} ms per text")
    print(f"whole deck cold: {sum(cold):.0f} ms")
    print(f"cached render: {cached_us:.2f} us per text")


if __name__ == "__main__":
    main()
