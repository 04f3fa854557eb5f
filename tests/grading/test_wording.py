"""Feedback words that need no sandbox: counts in the singular and plural."""

from __future__ import annotations

import pytest

from cards.grading import count
from cards.grading.async_blocking.feedback import below_five
from cards.grading.await_interleaving import prediction_text
from cards.grading.cpu_offload import below_five as offload_below_five
from cards.grading.gil_parallelism import below_five as gil_below_five


@pytest.mark.parametrize(
    ("n", "noun", "plural", "words"),
    [(1, "second", None, "1 second"), (45, "second", None, "45 seconds"), (0, "request", None, "0 requests"),
     (1, "process", "processes", "1 process"), (2, "process", "processes", "2 processes")],
)  # fmt: skip
def test_count(n, noun, plural, words):
    assert count(n, noun, plural) == words


@pytest.mark.parametrize(
    ("right", "words"),
    [
        (0, "Your first line already differs from what the program printed."),
        (1, "Only your first line matches what the program printed; line 2 differs."),
        (3, "Your first 3 lines match what the program printed; line 4 differs."),
    ],
)
def test_how_far_a_prediction_is_right_reads_as_english(right, words):
    assert prediction_text(right, 10, 10) == words


@pytest.mark.parametrize(
    ("cpu", "holding", "words"),
    [
        (0.012, 0.004, "the loop's thread computed for 12 ms (a 5 needs at most 9 ms)."),
        (0.001, 0.0095, "the loop's thread was held for 9.5 ms (a 5 needs at most 9 ms)."),
        (0.010, 0.010, "computed for 10 ms (a 5 needs at most 9 ms) and was held for 10 ms (a 5 needs at most 9 ms)."),
    ],
)
def test_a_pass_below_five_says_what_would_make_it_five(cpu, holding, words):
    text = below_five(cpu, holding, bound_computing=0.015, bound_blocked=0.015)
    assert text.startswith("Quality 4, not 5:") and words in text and "httpx.AsyncClient" in text
    assert below_five(0.001, 0.001, bound_computing=0.015, bound_blocked=0.015) == ""


def test_an_offload_pass_below_five_names_the_allowance_it_went_over():
    cpu = offload_below_five(own=0.080, allowed_own=0.137, blocked_work=0.010, allowed_blocked_work=0.137)
    assert cpu.startswith("Quality 4, not 5: the loop's process spent 80 ms of CPU (a 5 needs at most 68 ms).")
    waited = offload_below_five(own=0.010, allowed_own=0.137, blocked_work=0.090, allowed_blocked_work=0.137)
    assert "sat waiting while 90 ms of the work ran (a 5 needs at most 68 ms)" in waited
    assert offload_below_five(own=0.010, allowed_own=0.137, blocked_work=0.010, allowed_blocked_work=0.137) == ""


def test_a_parallelism_pass_below_five_says_how_much_more_overlap_a_five_needs():
    text = gil_below_five(net_parallel=0.3, needed_parallel=0.2)
    assert text.startswith("Quality 4, not 5: 300 ms of the jobs ran side by side") and "a 5 needs 400 ms" in text
