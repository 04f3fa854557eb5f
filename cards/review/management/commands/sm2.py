"""Print the SM-2 schedule for a sequence of grades: `manage.py sm2 5 4 3 2`.

Each argument is one scheduled review (cards.review.sm2.schedule), starting from a new
item (EF 2.5). The table shows, per step, the quality and its meaning, the
repetition number, EF after the answer, the next interval, and whether the item
would come back the same day (step 7: scored below 4). With `--json` the last
line of stdout is a JSON list, one object per answer:
{"quality", "repetitions", "easiness", "interval"}, easiness as an exact number.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cards.review.sm2 import QUALITY_MEANINGS, REDRILL_UNTIL, InvalidQuality, Sm2State, parse_quality, schedule


def quality_argument(text: str) -> int:
    """argparse type: an integer grade 0..5, or an argparse error (exit status 2)."""
    try:
        return parse_quality(text)
    except InvalidQuality as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def decimal_text(value: Decimal) -> str:
    """A Decimal as the shortest exact number text: 2.60 -> "2.6", 3.00 -> "3"."""
    return format(value.normalize(), "f")


def schedule_json(qualities: list[int], states: list[Sm2State]) -> str:
    """One JSON list, easiness written from the Decimal's digits (never through a float)."""
    items = []
    for quality, state in zip(qualities, states, strict=True):
        head = json.dumps({"quality": quality, "repetitions": state.repetitions})[:-1]
        items.append(f'{head}, "easiness": {decimal_text(state.easiness)}, "interval": {state.interval}}}')
    return "[" + ", ".join(items) + "]"


def schedule_table(qualities: list[int], states: list[Sm2State]) -> list[str]:
    """Readable rows: step, quality and meaning, n, EF, interval, due day, same-day re-drill."""
    meaning_width = max(len(meaning) for meaning in QUALITY_MEANINGS.values())
    header = (
        f"{'step':>4}  {'q':>1}  {'meaning':<{meaning_width}}  {'n':>3}  {'EF':>5}  "
        f"{'interval':>8}  {'due on day':>10}  same day?"
    )
    rows = [header, "-" * len(header)]
    day = 0
    for step, (quality, state) in enumerate(zip(qualities, states, strict=True), start=1):
        # Each scheduled review happens on the day the previous one made it due.
        due_day = day + state.interval
        again = f"yes, until it scores >= {REDRILL_UNTIL}" if quality < REDRILL_UNTIL else "no"
        rows.append(
            f"{step:>4}  {quality:>1}  {QUALITY_MEANINGS[quality]:<{meaning_width}}  {state.repetitions:>3}  "
            f"{decimal_text(state.easiness):>5}  {state.interval:>8}  {due_day:>10}  {again}"
        )
        day = due_day
    return rows


class Command(BaseCommand):
    help = "Print the SM-2 schedule for a sequence of grades (integers 0..5), one scheduled review each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "qualities",
            nargs="+",
            type=quality_argument,
            metavar="QUALITY",
            help="grades 0..5 in the order they are given, e.g. 5 4 3 2",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help='end with one JSON line: [{"quality", "repetitions", "easiness", "interval"}, ...]',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        qualities: list[int] = options["qualities"]
        states = schedule(qualities)
        if options["json"]:
            self.stdout.write(schedule_json(qualities, states))
            return
        self.stdout.write(f"SM-2 from a new item (EF {decimal_text(Sm2State().easiness)}), day 0:")
        for row in schedule_table(qualities, states):
            self.stdout.write(row)
