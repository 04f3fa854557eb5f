"""SM-2 (Wozniak, 1990), exactly, with the readings this project takes.

Pure code: no Django, frozen values in and out, exact decimal arithmetic.

- Every item starts with EF 2.5, repetition number 0.
- Quality q is an integer 0..5.
- q >= 3: n goes up by one; I(1) = 1, I(2) = 6, I(n) = ceil(I(n-1) * EF) for n > 2,
  with EF as it was *before* this answer; then
  EF' = EF + (0.1 - (5-q)(0.08 + (5-q)0.02)), never below 1.3.
- q < 3: n restarts at 0, the next interval is 1 day, EF is left unchanged.
- Step 7: in the same day, an item answered below 4 comes back until it scores at
  least 4; those extra answers change neither EF nor the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from fractions import Fraction

# Written with two places, like every EF this module returns (and the database column),
# so equal values also print alike: 2.50 + 0.10 = 2.60, never "2.6" next to "2.60".
INITIAL_EASINESS = Decimal("2.50")
MIN_EASINESS = Decimal("1.30")
MIN_QUALITY, MAX_QUALITY = 0, 5
PASSING_QUALITY = 3
REDRILL_UNTIL = 4
# Enough digits that adding EF deltas (two decimals) to any plausible EF is exact.
_EXACT_PRECISION = 60

QUALITY_MEANINGS = {
    5: "perfect response",
    4: "correct after a hesitation",
    3: "correct with serious difficulty",
    2: "incorrect; the correct one seemed easy to recall",
    1: "incorrect; the correct one remembered",
    0: "complete blackout",
}


class InvalidQuality(ValueError):
    """A quality that is not an integer from 0 to 5."""


@dataclass(frozen=True, slots=True)
class Sm2State:
    """An item's schedule: repetition number n, easiness factor EF, interval in days."""

    repetitions: int = 0
    easiness: Decimal = INITIAL_EASINESS
    interval: int = 0


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one answer: the new state and whether the item comes back today."""

    state: Sm2State
    redrill: bool


def check_quality(quality: object) -> int:
    """Return `quality` as an int, or raise InvalidQuality saying what is wrong."""
    # bool is an int subclass, and 4.0 or "4" are not grades: refuse them explicitly.
    if isinstance(quality, bool) or not isinstance(quality, int):
        raise InvalidQuality(f"quality must be an integer from 0 to 5, not {quality!r}")
    if not MIN_QUALITY <= quality <= MAX_QUALITY:
        raise InvalidQuality(f"quality must be an integer from 0 to 5, not {quality}")
    return quality


def parse_quality(text: str) -> int:
    """Parse a quality typed by a person ("4"), with a clear error for anything else."""
    stripped = text.strip()
    # isdigit() alone accepts "³" and Arabic-Indic digits; a grade is plain ASCII 0..5.
    if not (stripped.isascii() and stripped.isdigit()) or int(stripped) > MAX_QUALITY:
        raise InvalidQuality(f"quality must be an integer from 0 to 5, not {text!r}")
    return int(stripped)


def next_easiness(easiness: Decimal, quality: int) -> Decimal:
    """EF' = EF + (0.1 - (5-q)(0.08 + (5-q)0.02)), floored at 1.3."""
    miss = MAX_QUALITY - quality
    # A private context: the caller's (possibly lowered) precision must not round EF.
    with localcontext(prec=_EXACT_PRECISION):
        updated = easiness + (Decimal("0.1") - miss * (Decimal("0.08") + miss * Decimal("0.02")))
    return max(updated, MIN_EASINESS)


def next_interval(interval: int, easiness: Decimal) -> int:
    """ceil(interval * EF), exactly.

    Decimal multiplication rounds to the context's precision (28 digits), which a
    long run of good answers exceeds; a Fraction of the Decimal is exact.
    """
    return math.ceil(interval * Fraction(easiness))


def review(state: Sm2State, quality: int) -> Sm2State:
    """Apply one scheduled review of quality `quality` to `state`."""
    quality = check_quality(quality)
    if quality < PASSING_QUALITY:
        return replace(state, repetitions=0, interval=1)
    repetitions = state.repetitions + 1
    match repetitions:
        case 1:
            interval = 1
        case 2:
            interval = 6
        case _:
            interval = next_interval(state.interval, state.easiness)
    return Sm2State(repetitions=repetitions, easiness=next_easiness(state.easiness, quality), interval=interval)


def answer(state: Sm2State, quality: int, *, redrill: bool = False) -> Answer:
    """One answer in a day's session.

    A scheduled answer (`redrill=False`) moves the schedule; a same-day re-drill
    leaves it as it is. Either way, a quality below 4 brings the item back today.
    """
    quality = check_quality(quality)
    new_state = state if redrill else review(state, quality)
    return Answer(state=new_state, redrill=quality < REDRILL_UNTIL)


def schedule(qualities: list[int], start: Sm2State | None = None) -> list[Sm2State]:
    """The state after each of a sequence of scheduled reviews."""
    state = start or Sm2State()
    states = []
    for quality in qualities:
        state = review(state, quality)
        states.append(state)
    return states
