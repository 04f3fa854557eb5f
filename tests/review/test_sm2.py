"""cards/review/sm2.py: worked examples checked by hand, golden sequences, and properties.

EF delta by quality, from EF' = EF + (0.1 - (5-q)(0.08 + (5-q)0.02)):
  q=5: 0.1 - 0*(...)              = +0.10
  q=4: 0.1 - 1*(0.08 + 0.02)      =  0.00
  q=3: 0.1 - 2*(0.08 + 0.04)      = -0.14
  (q<3 leaves EF unchanged in this project's reading, so the -0.32/-0.54/-0.80
  deltas of q=2/1/0 never apply.)
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cards.review.sm2 import (
    INITIAL_EASINESS,
    MIN_EASINESS,
    QUALITY_MEANINGS,
    InvalidQuality,
    Sm2State,
    answer,
    check_quality,
    next_easiness,
    parse_quality,
    review,
    schedule,
)

grades = st.integers(min_value=0, max_value=5)
grade_runs = st.lists(grades, max_size=80)


def intervals(qualities: list[int]) -> list[int]:
    return [state.interval for state in schedule(qualities)]


def easinesses(qualities: list[int]) -> list[Decimal]:
    return [state.easiness for state in schedule(qualities)]


def reference_schedule(qualities: list[int]) -> list[tuple[int, Fraction, int]]:
    """SM-2 again, in exact rationals and nothing else, to compare against."""
    repetitions, easiness, interval = 0, Fraction(5, 2), 0
    out = []
    for q in qualities:
        if q < 3:
            repetitions, interval = 0, 1
        else:
            repetitions += 1
            if repetitions == 1:
                interval = 1
            elif repetitions == 2:
                interval = 6
            else:
                interval = math.ceil(interval * easiness)
            miss = 5 - q
            easiness = max(
                Fraction(13, 10), easiness + Fraction(1, 10) - miss * (Fraction(8, 100) + miss * Fraction(2, 100))
            )
        out.append((repetitions, easiness, interval))
    return out


# --- worked examples, checked by hand ---------------------------------------------------


def test_a_new_item_starts_at_ef_2_5_with_nothing_learned():
    assert Sm2State() == Sm2State(repetitions=0, easiness=Decimal("2.5"), interval=0)


def test_three_perfect_answers():
    # n=1: I=1;  EF 2.5 + 0.1 = 2.6
    # n=2: I=6;  EF 2.6 + 0.1 = 2.7
    # n=3: I=ceil(6 * 2.7) = ceil(16.2) = 17 (EF before this answer); EF 2.8
    assert intervals([5, 5, 5]) == [1, 6, 17]
    assert easinesses([5, 5, 5]) == [Decimal("2.6"), Decimal("2.7"), Decimal("2.8")]
    assert [s.repetitions for s in schedule([5, 5, 5])] == [1, 2, 3]


def test_grade_4_keeps_ef_and_multiplies_by_2_5():
    # EF stays 2.5; I: 1, 6, ceil(6*2.5)=15, ceil(15*2.5)=ceil(37.5)=38, ceil(38*2.5)=95
    assert intervals([4, 4, 4, 4, 4]) == [1, 6, 15, 38, 95]
    assert set(easinesses([4, 4, 4, 4, 4])) == {Decimal("2.5")}


def test_grade_3_lowers_ef_by_0_14_and_uses_the_ef_before_the_update():
    # EF: 2.5-0.14=2.36, 2.22, 2.08, 1.94
    # I: 1, 6, ceil(6*2.22)=ceil(13.32)=14, ceil(14*2.08)=ceil(29.12)=30
    assert easinesses([3, 3, 3, 3]) == [Decimal("2.36"), Decimal("2.22"), Decimal("2.08"), Decimal("1.94")]
    assert intervals([3, 3, 3, 3]) == [1, 6, 14, 30]


def test_ef_floor_is_1_3():
    # 2.5 -> 2.36 -> 2.22 -> 2.08 -> 1.94 -> 1.80 -> 1.66 -> 1.52 -> 1.38 -> max(1.24, 1.3) = 1.3 -> 1.3
    assert easinesses([3] * 10)[-3:] == [Decimal("1.38"), Decimal("1.3"), Decimal("1.3")]
    # At the floor, I(n) = ceil(I(n-1) * 1.3): the 10th answer uses EF 1.3 (after the 9th).
    states = schedule([3] * 10)
    assert states[9].interval == math.ceil(states[8].interval * Fraction(13, 10))


def test_floor_applies_from_any_start():
    assert review(Sm2State(repetitions=5, easiness=Decimal("1.35"), interval=10), 3).easiness == MIN_EASINESS


def test_a_lapse_restarts_repetitions_and_keeps_ef():
    # 5, 5 -> n=2, I=6, EF 2.7; then q=2: n=0, I=1, EF still 2.7 (not 2.7-0.32)
    states = schedule([5, 5, 2])
    assert states[2] == Sm2State(repetitions=0, easiness=Decimal("2.7"), interval=1)
    # Relearning: n=1 I=1 EF 2.8; n=2 I=6 EF 2.9; n=3 I=ceil(6*2.9)=ceil(17.4)=18 EF 3.0
    assert intervals([5, 5, 2, 5, 5, 5])[3:] == [1, 6, 18]
    assert easinesses([5, 5, 2, 5, 5, 5])[3:] == [Decimal("2.8"), Decimal("2.9"), Decimal("3.0")]


@pytest.mark.parametrize("lapse", [0, 1, 2])
def test_every_failing_grade_is_a_lapse(lapse):
    before = Sm2State(repetitions=4, easiness=Decimal("2.18"), interval=40)
    assert review(before, lapse) == Sm2State(repetitions=0, easiness=Decimal("2.18"), interval=1)


def test_golden_mixed_sequence():
    # q: 5    4    3     2     5     5     1     0     3
    # n: 1    2    3     0     1     2     0     0     1
    # I: 1    6    16    1     1     6     1     1     1      (16 = ceil(6*2.6) = ceil(15.6))
    # EF 2.6  2.6  2.46  2.46  2.56  2.66  2.66  2.66  2.52
    states = schedule([5, 4, 3, 2, 5, 5, 1, 0, 3])
    assert [(s.repetitions, s.interval, str(s.easiness)) for s in states] == [
        (1, 1, "2.60"),
        (2, 6, "2.60"),
        (3, 16, "2.46"),
        (0, 1, "2.46"),
        (1, 1, "2.56"),
        (2, 6, "2.66"),
        (0, 1, "2.66"),
        (0, 1, "2.66"),
        (1, 1, "2.52"),
    ]


def test_golden_long_perfect_run():
    # EF before answer n (n>=3) is 2.5 + 0.1*(n-1): I = 1, 6, ceil(6*2.7)=17, ceil(17*2.8)=ceil(47.6)=48,
    # ceil(48*2.9)=ceil(139.2)=140, ceil(140*3.0)=420, ceil(420*3.1)=1302
    assert intervals([5] * 7) == [1, 6, 17, 48, 140, 420, 1302]


def test_long_runs_stay_exact_past_decimal_precision():
    # Intervals pass 28 digits (Decimal's default precision) after ~40 perfect answers.
    run = [5] * 120
    expected = reference_schedule(run)
    assert len(str(expected[-1][2])) > 28
    assert intervals(run) == [interval for _, _, interval in expected]


def test_decimal_exactness():
    ef = schedule([5])[0].easiness
    assert isinstance(ef, Decimal)
    assert ef == Decimal("2.6") and str(ef) == "2.60"
    assert 2.5 + 0.1 + 0.1 + 0.1 != 2.8  # the float trap this avoids (2.8000000000000003)
    assert schedule([5, 5, 5])[-1].easiness == Decimal("2.8")
    assert next_easiness(Decimal("2.5"), 3) == Decimal("2.36")


def test_schedule_can_start_from_a_given_state():
    start = Sm2State(repetitions=2, easiness=Decimal("2.0"), interval=6)
    # ceil(6 * 2.0) = 12; EF 2.0 + 0.1 = 2.1
    assert schedule([5], start=start) == [Sm2State(repetitions=3, easiness=Decimal("2.1"), interval=12)]


# --- step 7: same-day re-drill -----------------------------------------------------------


def test_scheduled_answer_below_4_moves_the_schedule_and_comes_back_today():
    result = answer(Sm2State(), 3)
    assert result.state == Sm2State(repetitions=1, easiness=Decimal("2.36"), interval=1)
    assert result.redrill is True


def test_scheduled_answer_of_4_or_5_does_not_come_back_today():
    assert answer(Sm2State(), 4).redrill is False
    assert answer(Sm2State(), 5).redrill is False


def test_redrill_answers_change_neither_ef_nor_interval():
    state = schedule([5, 5, 2])[-1]
    for quality in (0, 1, 2, 3, 5):
        result = answer(state, quality, redrill=True)
        assert result.state is state
    assert answer(state, 3, redrill=True).redrill is True
    assert answer(state, 4, redrill=True).redrill is False


def test_states_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Sm2State().interval = 3  # type: ignore[misc]


# --- grades ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 6, 100, 3.0, 4.5, "4", None, True, False, Decimal("4")])
def test_check_quality_refuses_anything_but_an_int_0_to_5(bad):
    with pytest.raises(InvalidQuality):
        check_quality(bad)
    with pytest.raises(InvalidQuality):
        review(Sm2State(), bad)
    with pytest.raises(InvalidQuality):
        answer(Sm2State(), bad, redrill=True)


@pytest.mark.parametrize("bad", ["", " ", "6", "-1", "3.5", "x", "+3", "٣", "³", "1e0"])
def test_parse_quality_refuses_bad_text(bad):
    with pytest.raises(InvalidQuality, match="integer from 0 to 5"):
        parse_quality(bad)


def test_parse_quality_reads_plain_digits():
    assert [parse_quality(str(q)) for q in range(6)] == list(range(6))
    assert parse_quality(" 4\n") == 4


def test_every_grade_has_a_meaning():
    assert sorted(QUALITY_MEANINGS) == [0, 1, 2, 3, 4, 5]


# --- properties ----------------------------------------------------------------------------


@given(grade_runs)
def test_ef_never_below_1_3_and_has_two_decimals(qualities):
    for state in schedule(qualities):
        assert state.easiness >= MIN_EASINESS
        assert state.easiness.as_tuple().exponent == -2


@given(grade_runs, grades)
def test_each_answer_follows_the_rules(qualities, quality):
    before = schedule(qualities)[-1] if qualities else Sm2State()
    after = review(before, quality)
    if quality < 3:
        assert after == dataclasses.replace(before, repetitions=0, interval=1)
    else:
        assert after.repetitions == before.repetitions + 1
        miss = 5 - quality
        formula = Fraction(before.easiness) + Fraction(1, 10) - miss * (Fraction(8, 100) + miss * Fraction(2, 100))
        assert Fraction(after.easiness) == max(formula, Fraction(13, 10))
        if before.repetitions >= 1:
            # Consecutive successes never shorten the interval (EF >= 1.3 > 1, and I(2)=6 > I(1)=1).
            assert after.interval >= before.interval
        if after.repetitions >= 3:
            assert after.interval == math.ceil(before.interval * Fraction(before.easiness))


@given(grade_runs)
def test_matches_an_exact_rational_reference(qualities):
    got = [(s.repetitions, Fraction(s.easiness), s.interval) for s in schedule(qualities)]
    assert got == reference_schedule(qualities)


@given(grade_runs)
def test_results_do_not_depend_on_the_callers_decimal_context(qualities):
    expected = schedule(qualities)
    with localcontext(prec=3):
        assert schedule(qualities) == expected


@given(grade_runs, grades)
def test_redrill_never_moves_the_schedule(qualities, quality):
    state = schedule(qualities)[-1] if qualities else Sm2State()
    result = answer(state, quality, redrill=True)
    assert result.state == state
    assert result.redrill == (quality < 4)


@given(grade_runs)
def test_a_run_of_successes_from_a_lapse_grows_like_a_new_item_with_its_ef(qualities):
    # After a lapse the item relearns: 1 day, then 6, then by its kept EF (+0.1 twice by then).
    before = schedule([*qualities, 0])[-1]
    relearned = schedule([5, 5, 5], start=before)
    assert [s.interval for s in relearned[:2]] == [1, 6]
    assert relearned[2].interval == math.ceil(6 * Fraction(before.easiness + Decimal("0.2")))
    assert before.easiness == (schedule(qualities)[-1].easiness if qualities else INITIAL_EASINESS)
