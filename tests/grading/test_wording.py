"""Feedback words that need no sandbox: counts in the singular and plural."""

from __future__ import annotations

import pytest

from cards.grading import count
from cards.grading.await_interleaving import prediction_text


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
