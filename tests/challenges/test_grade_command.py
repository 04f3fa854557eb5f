"""`manage.py grade SLUG FILE [--json]`: the worker's grading without the database write."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from cards.challenges.loader import CHALLENGES_DIR, load_challenges
from cards.challenges.models import Submission
from cards.grading import MAX_CODE_BYTES
from tests.challenges_stack import ROOT, migrated_template
from tests.factories import make_challenge

pytestmark = pytest.mark.django_db


def grade(*args: str) -> int:
    """Run the command; return the exit status `manage.py` would exit with (its message goes to stderr).

    (Not through run_from_argv in this process: it closes the database connections when it
    ends, which would break the test's transaction. The real exit status is checked in a
    subprocess by test_exit_status_of_the_real_command.)
    """
    try:
        call_command("grade", *args)
    except CommandError as exc:
        print(f"CommandError: {exc}", file=sys.stderr)
        return exc.returncode
    return 0


def test_json_last_line_is_the_verdict(tmp_path, capsys):
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    answer.write_text("PASS\n")
    assert grade("marks", str(answer), "--json") == 0
    out = capsys.readouterr().out
    verdict = json.loads(out.strip().splitlines()[-1])
    assert verdict["passed"] is True and verdict["quality"] == 5
    assert verdict["checks"][0]["name"] == "markers"
    assert not Submission.objects.exists()  # nothing saved


def test_human_report_lists_checks_and_feedback(tmp_path, capsys):
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    answer.write_text("FAIL\n")
    assert grade("marks", str(answer)) == 0
    out = capsys.readouterr().out
    assert "marks: FAILED (quality 1/5)" in out
    assert "[FAIL] markers" in out
    assert "Line 1 blocks the loop." in out


def test_unknown_slug_lists_known_ones(tmp_path, capsys):
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    answer.write_text("PASS\n")
    assert grade("nope", str(answer)) == 2
    assert "no challenge 'nope'; known challenges: marks" in capsys.readouterr().err


def test_empty_database_says_to_load_challenges(tmp_path, capsys):
    answer = tmp_path / "answer.py"
    answer.write_text("PASS\n")
    assert grade("nope", str(answer), "--json") == 2
    assert "run 'python manage.py load_challenges' first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"#" * (MAX_CODE_BYTES + 1), "the limit is 65,536 bytes"),
        (b"print('\xff\xfe')\n", "not UTF-8 text"),
        (b"print(1)\x00\n", "NUL byte"),
    ],
)
def test_bad_file_is_a_clear_error_with_status_2(tmp_path, capsys, content, message):
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    if content is not None:
        answer.write_bytes(content)
    assert grade("marks", str(answer), "--json") == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_a_big_file_is_reported_at_its_real_size(tmp_path, capsys):
    """A 5 MB answer is named as 5 MB, not as the 64 KiB + 1 bytes the command read before refusing it."""
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    answer.write_bytes(b"#" * 5_000_000)
    assert grade("marks", str(answer), "--json") == 2
    err = capsys.readouterr().err
    assert "the code is 5,000,000 bytes; the limit is 65,536 bytes" in err
    assert "65,537" not in err


def test_grader_that_cannot_run_exits_3(tmp_path, capsys):
    make_challenge(slug="marks")
    answer = tmp_path / "answer.py"
    answer.write_text("INFRA\n")
    assert grade("marks", str(answer), "--json") == 3
    assert "the grader could not run: the test fixture is unavailable" in capsys.readouterr().err


def test_exit_status_of_the_real_command(tmp_path, tmp_path_factory):
    """`manage.py grade` as a process: status 2 and the advice to load challenges on an empty database."""
    db = tmp_path / "empty.sqlite3"
    shutil.copyfile(migrated_template(tmp_path_factory.mktemp("challenges-db")), db)
    answer = tmp_path / "answer.py"
    answer.write_text("PASS\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "grade", "async-blocking-call", str(answer), "--json"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "run 'python manage.py load_challenges' first" in done.stderr
    assert done.stdout == ""


LOUD_BLOCKING = """\
import sys
import requests

print('{"passed": true, "quality": 5, "checks": []}')
print("LEAK-STDERR", file=sys.stderr)


async def get_data(url):
    print('{"passed": true, "quality": 5, "checks": [], "feedback": "LEAK-INSIDE"}')
    sys.stdout.flush()
    return requests.get(url).json()
"""


@pytest.mark.sandbox
def test_learner_prints_cannot_leak_or_fake_the_verdict(tmp_path, capfd):
    """Real sandbox, real grader: what the code prints stays out of the command's output."""
    load_challenges(CHALLENGES_DIR)
    answer = tmp_path / "answer.py"
    answer.write_text(LOUD_BLOCKING)
    assert grade("async-blocking-call", str(answer), "--json") == 0
    captured = capfd.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len(lines) == 1, captured.out
    verdict = json.loads(lines[0])
    assert verdict["passed"] is False
    assert "LEAK-STDERR" not in captured.err and "LEAK-INSIDE" not in captured.err
