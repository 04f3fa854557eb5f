"""await_interleaving: the order tasks interleave in, measured by running code in the sandbox."""

from __future__ import annotations

import re

import pytest

from cards.grading import GradingError
from cards.grading.graders import grade
from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

ARRANGE = challenge("await-pause-points")
PREDICT = challenge("predict-the-interleaving")

ARRANGE_PASSING = {
    "reference": ARRANGE.reference,
    "sleep_zero": """
import asyncio

async def worker(name, steps, log):
    for i in range(steps):
        log(f"{name}{i}")
        await asyncio.sleep(0)
""",
    "prints_as_it_goes": """
import asyncio

async def worker(name, steps, log):
    for i in range(steps):
        print(f"worker {name} logs step {i}")
        log(f"{name}{i}")
        await asyncio.sleep(0)
""",
    "pause_before_logging": """
import asyncio

async def worker(name, steps, log):
    for i in range(steps):
        await asyncio.sleep(0.005)
        log(f"{name}{i}")
""",
}

ARRANGE_FAILING = {
    "starter": ARRANGE.starter,
    "no_pause_at_all": """
async def worker(name, steps, log):
    for i in range(steps):
        log(f"{name}{i}")
""",
    "one_task_logs_everything": """
import asyncio

async def worker(name, steps, log):
    if name == "A":
        for i in range(steps):
            log(f"A{i}")
            log(f"B{i}")
    await asyncio.sleep(0)
""",
    "uneven_pauses": """
import asyncio

async def worker(name, steps, log):
    for i in range(steps):
        log(f"{name}{i}")
        await asyncio.sleep(0.05 if name == "A" else 0.005)
""",
    "raises": """
async def worker(name, steps, log):
    raise ValueError("nope")
""",
    "not_async": """
def worker(name, steps, log):
    log(name)
""",
}

PREDICT_PASSING = {
    "reference": PREDICT.reference,
    "no_comments_extra_blank_lines": "\n".join(
        line for line in PREDICT.reference.splitlines() if not line.startswith("#")
    ).replace("A start\n", "A start\n\n"),
}
PREDICT_FAILING = {
    "starter": PREDICT.starter,
    "empty": "",
    "one_line_too_many": PREDICT.reference + "\nmain done\n",
    "ten_extra_lines": PREDICT.reference + "\n" + "\n".join(f"extra {i}" for i in range(10)) + "\n",
    "two_lines_missing": "\n".join(PREDICT.reference.strip().splitlines()[:-2]),
}


@pytest.fixture(scope="module")
def verdicts():
    arranged = grade_all(ARRANGE.kind, {**ARRANGE_PASSING, **ARRANGE_FAILING}, ARRANGE.params)
    predicted = grade_all(PREDICT.kind, {**PREDICT_PASSING, **PREDICT_FAILING}, PREDICT.params)
    return {**{f"arrange:{k}": v for k, v in arranged.items()}, **{f"predict:{k}": v for k, v in predicted.items()}}


@pytest.mark.parametrize("name", [f"arrange:{k}" for k in ARRANGE_PASSING] + [f"predict:{k}" for k in PREDICT_PASSING])
def test_right_interleavings_pass(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    assert verdict.quality == 5


@pytest.mark.parametrize("name", [f"arrange:{k}" for k in ARRANGE_FAILING] + [f"predict:{k}" for k in PREDICT_FAILING])
def test_wrong_interleavings_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_starter_feedback_shows_the_measured_order_and_why(verdicts):
    verdict = verdicts["arrange:starter"]
    assert verdict.checks[0].measured["logged"] == ["A0", "A1", "A2", "B0", "B1", "B2"]
    assert "Measured order: A0 A1 A2 B0 B1 B2" in verdict.feedback
    assert "time.sleep() is not an `await`" in verdict.feedback


def test_a_task_logging_for_another_is_caught(verdicts):
    verdict = verdicts["arrange:one_task_logs_everything"]
    assert verdict.checks[0].passed  # the order alone looks right...
    assert not verdict.checks[1].passed  # ...but task A logged B's labels
    assert "B0 (logged by task A)" in verdict.feedback


def test_errors_are_named(verdicts):
    assert "ValueError: nope" in verdicts["arrange:raises"].feedback
    assert "async def worker" in verdicts["arrange:not_async"].feedback


def test_extra_and_missing_predicted_lines_are_named(verdicts):
    extra = verdicts["predict:ten_extra_lines"]
    assert "All 10 lines the program printed are in your answer, in order" in extra.feedback
    assert "10 more lines: the program prints only 10." in extra.feedback
    assert "The first 10 of 10 predicted lines match" not in extra.feedback
    assert "1 more line: the program prints only 10." in verdicts["predict:one_line_too_many"].feedback
    missing = verdicts["predict:two_lines_missing"]
    assert "match the start of what the program printed, but it printed 10: 2 lines are missing" in missing.feedback


def test_an_endless_loop_names_the_limit_that_ended_it():
    endless = """
async def worker(name, steps, log):
    log(f"{name}0")
    while True:
        pass
"""
    verdict = grade(ARRANGE.kind, endless, {**ARRANGE.params, "limits": {"cpu_seconds": 2, "wall_seconds": 12}})
    assert not verdict.passed and verdict.quality == 0
    # The CPU limit ends it; on a machine so busy that 2 s of CPU take 12 s, the wall-clock limit does.
    assert re.search(
        r"stopped by the sandbox's (CPU-time limit of 2 s|wall-clock limit of 12 s) before the tasks finished",
        verdict.feedback,
    ), verdict.feedback
    assert "Measured order: A0\n" in verdict.feedback
    assert "(nothing logged)" not in verdict.feedback


def test_a_coroutine_never_awaited_is_named_as_such():
    """`asyncio.sleep(0.01)` without `await` is a missing await, not "a call like time.sleep()"."""
    unawaited = """import asyncio


async def worker(name: str, steps: int, log) -> None:
    for i in range(steps):
        log(f"{name}{i}")
        asyncio.sleep(0.01)
"""
    verdict = grade(ARRANGE.kind, unawaited, ARRANGE.params)
    assert not verdict.passed
    assert "Line 7: `asyncio.sleep(0.01)` makes a coroutine that was never awaited" in verdict.feedback
    assert "Write `await asyncio.sleep(0.01)`" in verdict.feedback
    assert "a call like time.sleep()" not in verdict.feedback
    # The time.sleep starter still gets the explanation about calls that are not an await.
    starter = grade(ARRANGE.kind, ARRANGE.starter, ARRANGE.params)
    assert "a call like time.sleep() is not an `await`" in starter.feedback
    assert "never awaited" not in starter.feedback


def test_prediction_key_is_measured_and_matches_the_reference_file():
    from cards.grading.await_interleaving import measured_output, parse_prediction

    assert measured_output(PREDICT.params["program"], 10.0, {}) == parse_prediction(PREDICT.reference)


def test_predict_prompt_shows_the_program_that_is_run():
    shown = re.search(r"```python\n(.*?)```", PREDICT.prompt, re.S).group(1)
    assert shown.strip() == PREDICT.params["program"].strip()


def test_wrong_order_prediction_gets_a_hint_not_the_key(verdicts):
    verdict = verdicts["predict:starter"]
    assert "right lines in another order" in verdict.feedback
    assert "B start\nA step 0" not in verdict.feedback


def test_bad_params_are_refused_clearly():
    with pytest.raises(GradingError, match="'expected' is required"):
        grade("await_interleaving", ARRANGE.reference, {"tasks": [["A", 1]]})
    with pytest.raises(GradingError, match="'mode' must be"):
        grade("await_interleaving", ARRANGE.reference, {"mode": "guess"})
    with pytest.raises(GradingError, match="did not run cleanly"):
        grade("await_interleaving", "x", {"mode": "predict", "program": "raise SystemExit(3)"})


def test_the_learners_own_output_and_traceback_come_with_the_verdict(verdicts):
    printed = verdicts["arrange:prints_as_it_goes"].output
    assert "worker A logs step 0\nworker B logs step 0\n" in printed["stdout"]
    stderr = verdicts["arrange:raises"].output["stderr"]
    assert stderr.startswith("Traceback (most recent call last):")
    assert 'solution.py", line 3, in worker' in stderr and "ValueError: nope" in stderr
    assert "main.py" not in stderr  # the harness's frames say nothing to the learner
    assert verdicts["arrange:reference"].output == {"stdout": "", "stderr": ""}


def test_a_prediction_keeps_the_printed_lines_only_in_its_answer_key(verdicts):
    printed = [line for line in PREDICT.reference.splitlines() if line.strip() and not line.startswith("#")]
    verdict = verdicts["predict:two_lines_missing"]
    rows = verdict.answer_key["lines"]
    assert [row["actual"] for row in rows] == printed
    assert [row["match"] for row in rows] == [True] * 8 + [False] * 2
    assert rows[-1]["predicted"] is None
    # What the page always shows (feedback, checks) does not hand over a line the learner did not write.
    shown = (
        verdict.feedback
        + repr([check.measured for check in verdict.checks])
        + repr([c.message for c in verdict.checks])
    )
    assert printed[-1] not in shown and printed[-2] not in shown
    assert not verdict.output  # the learner's answer is text, not a program: nothing of theirs ran
