"""The blocking-call grader (kind async_blocking_call) against answers of both kinds, in the real sandbox.

Each answer in tests/answers/async_blocking/ is named pass_*.py or fail_*.py; the
fail answers' docstring-free names map to the checks that must fail (FAILING).
Every answer is graded one at a time, then all of them eight at a time on this
2-core machine, and the verdicts must be the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cards.grading import GradingError
from cards.grading.async_blocking.grader import KIND
from cards.grading.graders import grade
from cards.sandbox import config as sandbox_config

from .parallel import grade_as_the_worker_does, grade_side_by_side

pytestmark = pytest.mark.sandbox

CHALLENGE = Path(__file__).resolve().parents[2] / "cards" / "challenges" / "catalog" / "async-blocking-call"
ANSWERS = Path(__file__).resolve().parents[1] / "answers" / "async_blocking"
PARAMS = {"calls": 10, "delay_ms": 250}

# The checks each failing answer must fail, exactly (the others must pass).
FAILING = {
    "fail_alias": {"loop", "overlap"},
    "fail_child_process": {"loop", "overlap"},
    "fail_collect_then_block": {"loop"},
    "fail_cpu_heavy": {"loop"},
    "fail_disable_hooks": {"loop", "overlap"},
    "fail_drive_loop": {"results", "overlap"},
    "fail_equals_anything": {"results", "overlap"},
    "fail_equals_anything_obj": {"results", "overlap"},
    "fail_fake_end": {"loop", "overlap"},
    "fail_forge_heartbeat": {"loop", "overlap"},
    "fail_future_result": {"loop", "overlap"},
    "fail_getattr": {"loop", "overlap"},
    "fail_global_lock": {"overlap"},
    "fail_guess_body": {"results", "overlap"},
    "fail_helper": {"loop", "overlap"},
    "fail_importlib": {"loop", "overlap"},
    "fail_never_awaited": {"results", "overlap"},
    "fail_new_loop_in_thread": {"loop", "overlap"},
    "fail_not_coroutine_function": {"runs"},
    "fail_os_exit": {"results", "loop", "overlap"},
    "fail_output_flood": {"runs"},
    "fail_patch_clocks": {"loop", "overlap"},
    "fail_patch_exit": {"loop", "overlap"},
    "fail_print_verdict": {"loop", "overlap"},
    "fail_queue_get": {"loop", "overlap"},
    "fail_raw_socket": {"loop", "overlap"},
    "fail_reload_modules": {"loop", "overlap"},
    "fail_requests_session": {"loop", "overlap"},
    "fail_same_body": {"results", "overlap"},
    "fail_semaphore_one": {"overlap"},
    "fail_starter_requests": {"loop", "overlap"},
    "fail_sync_httpx": {"loop", "overlap"},
    "fail_syntax_error": {"runs"},
    "fail_sys_exit": {"runs"},
    "fail_text": {"results"},
    "fail_thread_join": {"loop", "overlap"},
    "fail_time_sleep": {"loop"},
    "fail_urllib": {"loop", "overlap"},
}
ANSWER_FILES = sorted(ANSWERS.glob("*.py"))
NAMES = [path.stem for path in ANSWER_FILES]


def failed_checks(verdict) -> set[str]:
    return {check.name for check in verdict.checks if not check.passed}


def expected_failing(name: str) -> set[str]:
    return set() if name.startswith("pass_") else FAILING[name]


def grade_answer(name: str):
    return grade_as_the_worker_does(KIND, (ANSWERS / f"{name}.py").read_text(encoding="utf-8"), PARAMS)


def test_answers_cover_both_kinds_and_every_fail_is_specified():
    passes = [n for n in NAMES if n.startswith("pass_")]
    fails = [n for n in NAMES if n.startswith("fail_")]
    assert len(passes) >= 10 and len(fails) >= 20 and len(NAMES) >= 30
    assert set(fails) == set(FAILING)
    # Every process-pool start method, the forkserver one also started lazily from the loop (issue 9).
    assert {
        "pass_process_pool_fork",
        "pass_process_pool_spawn",
        "pass_forkserver_pool",
        "pass_forkserver_pool_lazy",
    } <= set(passes)


@pytest.mark.parametrize("name", NAMES)
def test_answer_verdict(name):
    verdict = grade_answer(name)
    assert failed_checks(verdict) == expected_failing(name), verdict.feedback
    assert verdict.passed == name.startswith("pass_")
    if verdict.passed:
        assert verdict.quality >= 4
    else:
        assert verdict.quality <= 2


@pytest.mark.slow
def test_same_verdicts_eight_at_a_time():
    # Every answer, the forkserver pools too (their server's start-up is excused by CPU, not by the clock).
    names = NAMES
    codes = [(ANSWERS / f"{name}.py").read_text(encoding="utf-8") for name in names]
    verdicts = dict(zip(names, grade_side_by_side(KIND, codes, PARAMS, 8), strict=True))
    wrong = {
        name: (sorted(failed_checks(v)), v.feedback[:300])
        for name, v in verdicts.items()
        if failed_checks(v) != expected_failing(name)
    }
    assert not wrong


def test_starter_fails_with_feedback_naming_the_blocking_line():
    verdict = grade_as_the_worker_does(KIND, (CHALLENGE / "starter.py").read_text(encoding="utf-8"), PARAMS)
    assert not verdict.passed
    assert "Line 5, `requests.get(url)`, held the event loop for " in verdict.feedback
    assert " ms per call" in verdict.feedback
    loop = next(check for check in verdict.checks if check.name == "loop")
    assert loop.measured["blocking_lines"][0]["line"] == 5
    # Each call waits 250 ms at the server with the loop blocked; once the loop has been held for two of
    # those (the verdict is decided), the grader stops the run instead of waiting out all ten.
    assert loop.measured["blocked_ms"] >= 500
    assert loop.measured["blocking_lines"][0]["per_call_ms"] >= 200
    assert loop.measured["blocking_lines"][0]["kind"] == "socket"
    results = next(check for check in verdict.checks if check.name == "results")
    assert results.passed and results.measured["stopped"]
    assert 2 <= results.measured["returned"] < 10
    assert "The grader stopped the run there, when " in verdict.feedback
    assert "each gave exactly the JSON the server sent" in verdict.feedback
    assert verdict.quality == 2
    assert loop.measured["blocked_by_kind_ms"]["socket"] >= 450  # the kernel saw it waiting on a socket
    assert "waiting on a socket" in verdict.feedback
    assert "ASYNC210" in verdict.feedback  # ruff's static hint, as a hint


def test_reference_passes_with_full_marks():
    verdict = grade_as_the_worker_does(KIND, (CHALLENGE / "reference.py").read_text(encoding="utf-8"), PARAMS)
    assert verdict.passed and verdict.quality >= 4
    overlap = next(check for check in verdict.checks if check.name == "overlap")
    assert overlap.measured["max_in_flight"] >= 6
    assert verdict.timings["fixture_delay_seconds"] == 0.25


@pytest.mark.parametrize("name", ["fail_print_verdict", "fail_os_exit", "fail_sys_exit"])
def test_nothing_the_code_prints_reaches_the_verdict(name):
    verdict = grade_answer(name)
    data = verdict.to_dict()
    # What it printed is shown to the learner as their program's output, and only there.
    output = data.pop("output")
    if name == "fail_print_verdict":
        assert '"feedback": "All good"' in output["stdout"] and "PASSED" in output["stderr"]
    # Feedback may quote the learner's own source lines (`...`): that is their code, not what it printed.
    for check in data["checks"]:
        for line in check["measured"].get("blocking_lines", []):
            line["code"] = ""
    text = re.sub(r"`[^`]*`", "``", json.dumps(data))
    assert "All good" not in text and "perfect" not in text and "PASSED" not in text
    assert not verdict.passed


def test_a_forged_end_message_does_not_cut_the_measurement_short():
    verdict = grade_answer("fail_fake_end")
    loop = next(check for check in verdict.checks if check.name == "loop")
    # The fake end goes out at the first call; the grader went on measuring until the loop had been held for
    # two of the server's delays (its early stop), not a moment less.
    assert loop.measured["blocked_ms"] >= 500
    assert not verdict.passed and verdict.quality <= 2


def test_output_flood_is_stopped_by_the_sandbox_and_said_so():
    verdict = grade_answer("fail_output_flood")
    assert verdict.quality == 0
    assert "output" in verdict.feedback and "quality" not in verdict.feedback


def test_syntax_error_names_the_line_once_without_running_anything():
    verdict = grade_answer("fail_syntax_error")
    assert verdict.quality == 0
    assert "line 4" in verdict.feedback
    assert verdict.timings == {}
    # The page shows the feedback and every check's message: the line is named once in all.
    shown = verdict.feedback + " " + " ".join(check.message for check in verdict.checks)
    assert shown.count("line 4") == 1
    # A message that names its line already does not get it a second time.
    unterminated = grade(KIND, 'async def get_data(url):\n    return "abc\n', PARAMS)
    assert unterminated.feedback.count("line 2") == 1, unterminated.feedback


def test_wrong_results_feedback_explains_text_and_unawaited_coroutines():
    text = grade_answer("fail_text")
    assert "as text (a str)" in text.feedback and "response.json()" in text.feedback
    never = grade_answer("fail_never_awaited")
    assert "never awaited" in never.feedback


def test_sandbox_unavailable_is_a_grading_error(monkeypatch):
    monkeypatch.setattr(sandbox_config, "_current", sandbox_config.replaced(root=Path("/nonexistent-sandbox-root")))
    with pytest.raises(GradingError, match="sandbox"):
        grade(KIND, (CHALLENGE / "reference.py").read_text(encoding="utf-8"), {**PARAMS, "delay_ms": 251})


def test_bad_params_are_a_grading_error():
    with pytest.raises(GradingError):
        grade(KIND, "async def get_data(url):\n    return {}\n", {"calls": 1000})
    with pytest.raises(GradingError, match="stop_after_delays"):
        grade(KIND, "async def get_data(url):\n    return {}\n", {**PARAMS, "stop_after_delays": 0.5})


def test_with_early_stopping_off_every_call_runs_and_is_judged():
    verdict = grade_as_the_worker_does(
        KIND, (CHALLENGE / "starter.py").read_text(encoding="utf-8"), {**PARAMS, "stop_after_delays": 0}
    )
    checks = {check.name: check for check in verdict.checks}
    assert failed_checks(verdict) == {"loop", "overlap"}
    assert not checks["results"].measured["stopped"] and checks["results"].measured["returned"] == 10
    assert checks["loop"].measured["blocked_ms"] >= 2000  # ten 250 ms waits on a socket, one after another
    assert "stopped the run" not in verdict.feedback
    assert "All 10 results were exactly the JSON the server sent" in verdict.feedback
