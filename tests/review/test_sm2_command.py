"""`manage.py sm2`: the readable table, the --json line, and bad grades (exit status 2)."""

import json
import re
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cards.review.sm2 import schedule

PROJECT = Path(__file__).resolve().parents[2]


def run_sm2(*args: str) -> str:
    out = StringIO()
    call_command("sm2", *args, stdout=out)
    return out.getvalue()


def last_json_line(output: str) -> list[dict]:
    return json.loads(output.strip().splitlines()[-1])


def test_json_is_the_last_line_with_exactly_the_four_keys():
    result = last_json_line(run_sm2("5", "5", "5", "--json"))
    # n=1: I=1, EF 2.5+0.1=2.6; n=2: I=6, EF 2.7; n=3: I=ceil(6*2.7)=ceil(16.2)=17, EF 2.8.
    assert result == [
        {"quality": 5, "repetitions": 1, "easiness": 2.6, "interval": 1},
        {"quality": 5, "repetitions": 2, "easiness": 2.7, "interval": 6},
        {"quality": 5, "repetitions": 3, "easiness": 2.8, "interval": 17},
    ]
    assert all(list(item) == ["quality", "repetitions", "easiness", "interval"] for item in result)


def test_json_easiness_is_written_exactly_never_through_a_float():
    line = run_sm2("5", "--json").strip().splitlines()[-1]
    assert '"easiness": 2.6,' in line
    assert "2.6000" not in line and "2.5999" not in line
    # Parsed as Decimal, the text is exactly the scheduler's value.
    parsed = json.loads(line, parse_float=Decimal)
    assert parsed[0]["easiness"] == Decimal("2.6")


def test_json_matches_the_scheduler_on_a_mixed_sequence():
    grades = [5, 4, 3, 2, 5, 5, 1, 0, 3, 4, 5, 0, 5]
    result = last_json_line(run_sm2(*map(str, grades), "--json"))
    states = schedule(grades)
    assert [item["quality"] for item in result] == grades
    assert [item["repetitions"] for item in result] == [s.repetitions for s in states]
    assert [item["interval"] for item in result] == [s.interval for s in states]
    assert [Decimal(str(item["easiness"])) for item in result] == [s.easiness for s in states]


def test_json_stays_exact_on_a_long_run_of_perfect_answers():
    # Intervals outgrow Decimal's 28-digit context after about 40 perfect answers.
    grades = ["5"] * 60
    line = run_sm2(*grades, "--json").strip().splitlines()[-1]
    parsed = json.loads(line, parse_float=Decimal)
    states = schedule([5] * 60)
    assert [item["interval"] for item in parsed] == [s.interval for s in states]
    assert parsed[-1]["easiness"] == Decimal("8.5")  # 2.5 + 60 * 0.1


def test_table_shows_every_step_with_meaning_ef_interval_and_same_day_flag():
    output = run_sm2("5", "4", "3", "2")
    lines = output.splitlines()
    assert "step" in lines[1] and "EF" in lines[1] and "interval" in lines[1] and "same day?" in lines[1]
    rows = lines[3:]
    assert len(rows) == 4
    assert "perfect response" in rows[0] and rows[0].rstrip().endswith("no")
    assert "correct after a hesitation" in rows[1] and rows[1].rstrip().endswith("no")
    # q=3 passes (n goes on) but is below 4, so it comes back the same day.
    assert "correct with serious difficulty" in rows[2] and "yes" in rows[2]
    assert "incorrect" in rows[3] and "yes" in rows[3]
    # Step 3: I = ceil(6 * 2.6) = ceil(15.6) = 16; EF = 2.6 - 0.14 = 2.46.
    # Due on day 1 + 6 + 16 = 23.
    assert re.search(r"difficulty\s+3\s+2\.46\s+16\s+23\s+yes", rows[2])


@pytest.mark.parametrize("bad", ["6", "-1", "3.5", "x", "", "10", "٣"])
def test_bad_grade_is_a_command_error_with_a_clear_message(bad):
    with pytest.raises(CommandError, match="quality must be an integer from 0 to 5"):
        run_sm2("5", bad)


def test_no_grade_at_all_is_an_error():
    with pytest.raises(CommandError):
        run_sm2()


@pytest.mark.parametrize("bad", ["6", "-1", "3.5", "x", ""])
def test_bad_grade_exits_with_status_2_and_prints_no_schedule(bad):
    result = subprocess.run(
        [sys.executable, "manage.py", "sm2", "5", bad, "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "quality must be an integer from 0 to 5" in result.stderr
    assert "usage:" in result.stderr


def test_good_grades_exit_zero_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "sm2", "5", "3", "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert last_json_line(result.stdout)[1] == {"quality": 3, "repetitions": 2, "easiness": 2.46, "interval": 6}
