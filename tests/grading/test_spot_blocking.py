"""spot_blocking: the learner marks blocking lines; the key is measured by running the program in the sandbox."""

from __future__ import annotations

import re

import pytest

from cards.grading import GradingError
from cards.grading.graders import grade
from cards.grading.spot_blocking import Program, measure_key, parse_answer
from tests.grading_helpers import challenge, explain

pytestmark = pytest.mark.sandbox

CH = challenge("spot-the-blocking-call")

PASSING = {
    "reference": CH.reference,
    "call_site_instead_of_helper": "42, 24, 38",
    "both_lines_of_one_site": "14\n42\n24\n38",
    "any_line_of_a_statement_and_spaces": "24 38 14",
}
FAILING = {
    "starter": CH.starter,
    "empty": "",
    "one_missing": "24, 38",
    "one_extra_await": "14, 24, 38, 19",
    "thread_offload_is_not_blocking": "14, 24, 38, 48",
    "executor_hashing_is_not_blocking": "14, 24, 38, 34",
    "blank_line": "14, 24, 38, 11",
    "not_numbers": "line fourteen",
}

AUTHORED = """
import asyncio
import time


def crunch():
    total = 0
    for i in range(8_000_000):
        total += i * i
    return total


async def ticker():
    for _ in range(5):
        await asyncio.sleep(0.05)


async def main():
    await asyncio.gather(ticker(), asyncio.sleep(0.1))
    time.sleep(0.3)
    crunch()
    await asyncio.sleep(0.2)


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def verdicts():
    # The key is measured once (two sandbox runs), then cached; grading an answer is then immediate.
    return {name: grade(CH.kind, answer, CH.params) for name, answer in {**PASSING, **FAILING}.items()}


def test_the_measured_key_is_the_reference():
    key = measure_key(CH.params)
    assert sorted(site.statements for site in key.blocking) == [(24,), (38,), (42, 14)]
    assert all(site.ms >= 100 for site in key.blocking)
    # The traps: awaiting sleep, a thread or an executor costs the loop (next to) nothing.
    assert {19, 29, 34, 48}.isdisjoint(s for site in key.blocking for s in site.statements)


@pytest.mark.parametrize("name", PASSING)
def test_every_blocking_line_and_nothing_else_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert verdict.quality == 5


@pytest.mark.parametrize("name", FAILING)
def test_missing_or_wrong_lines_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_feedback_gives_measured_times_and_hints_without_the_key(verdicts):
    verdict = verdicts["starter"]
    assert "Line 19, `await asyncio.sleep(0.2)" in verdict.feedback
    assert "0 ms" in verdict.feedback or re.search(r"holding the loop \d+ ms", verdict.feedback)
    assert "3 blocking lines not marked yet" in verdict.feedback
    assert "Line 24" not in verdict.feedback  # a miss is hinted at by function, not handed over
    assert "`fetch_orders()`" in verdict.feedback
    right = verdicts["reference"]
    assert re.search(r"Line 24, `response = requests.get\(.*\)`: held the event loop \d+ ms", right.feedback)


def test_the_measured_key_is_kept_apart_for_the_answer_section(verdicts):
    verdict = verdicts["starter"]
    key = {row["line"]: row for row in verdict.answer_key["blocking_lines"]}
    assert sorted(key) == [14, 24, 38]
    assert key[14]["called_from"] == [{"line": 42, "code": key[14]["called_from"][0]["code"]}]
    assert key[24]["code"].startswith("response = requests.get(") and key[24]["held_ms"] >= 100
    shown = verdict.feedback + repr([check.measured for check in verdict.checks])
    assert key[24]["code"] not in shown and "Line 24" not in shown and "Line 14" not in shown
    assert not verdict.output  # the learner's answer is line numbers: nothing of theirs ran


def test_one_mistake_scores_higher_than_many(verdicts):
    assert verdicts["one_missing"].quality == 2
    assert verdicts["starter"].quality == 0
    assert verdicts["not_numbers"].checks[0].measured["unreadable"] == ["line", "fourteen"]


def test_an_authored_program_without_a_key_is_measured():
    params = {"program": AUTHORED, "fixture": False}
    key = measure_key(params)
    lines = sorted(s for site in key.blocking for s in site.statements)
    # time.sleep (line 20) and the CPU loop called from line 21 block; the awaits do not.
    assert 20 in lines and 21 in lines
    assert {15, 19, 22}.isdisjoint(lines)
    verdict = grade("spot_blocking", "20, 21", params)
    assert verdict.passed, explain(verdict)


def test_programs_that_cannot_give_a_key_are_refused():
    with pytest.raises(GradingError, match="does not parse"):
        grade("spot_blocking", "1", {"program": "def (:", "fixture": False})
    with pytest.raises(GradingError, match="nothing to spot"):
        grade("spot_blocking", "1", {"program": "import asyncio\nasyncio.run(asyncio.sleep(0.1))\n", "fixture": False})
    with pytest.raises(GradingError, match="'program' is required"):
        grade("spot_blocking", "1", {})


def test_answers_and_statements_are_read_as_documented():
    assert parse_answer("14, 24\n38 # the hashing\n# 99") == ([14, 24, 38], [])
    program = Program("x = f(\n    1,\n)\nif x:\n    y = 2\n")
    assert [program.statement(n) for n in range(1, 7)] == [1, 1, 1, 4, 5, None]


def test_prompt_numbers_the_program_that_is_run():
    listing = re.search(r"```text\n(.*?)```", CH.prompt, re.S).group(1)
    shown = [re.sub(r"^\s*\d+ ?", "", line, count=1)[1:] if line.strip() else "" for line in listing.splitlines()]
    assert [line.rstrip() for line in shown] == [line.rstrip() for line in CH.params["program"].splitlines()]
