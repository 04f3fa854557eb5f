"""The import contracts (pyproject.toml, [tool.importlinter]) hold, and break when a layer imports what it must not.

scripts/test.sh runs `lint-imports` on the repository; this checks that the contracts
really catch what they are for, on a copy of the code with one forbidden import added.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("cards", "studyapp"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "catalog"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_the_code_as_it_is(copy):
    done = lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("cards/review/views.py", "from cards.grading import grade  # noqa", "cards.review.views -> cards.grading"),
        (
            "cards/challenges/admin.py",
            "from cards.sandbox import run_python  # noqa",
            "cards.challenges.admin -> cards.sandbox",
        ),
        # Indirectly: through a module that is not the web's but imports the sandbox.
        (
            "studyapp/urls.py",
            "from cards.challenges.management.commands import sandbox_run  # noqa",
            "sandbox_run -> cards.sandbox",
        ),
        # The domain code imports no Django.
        ("cards/review/sm2.py", "from django.utils import timezone  # noqa", "cards.review.sm2 -> django"),
        ("cards/grading/kernel.py", "from django.conf import settings  # noqa", "cards.grading.kernel -> django"),
        # The sandbox knows nothing of grading.
        ("cards/sandbox/jail.py", "from cards.grading import kernel  # noqa", "cards.sandbox.jail -> cards.grading"),
        # The project's plumbing imports no app.
        ("studyapp/ratelimit.py", "from cards import models  # noqa", "studyapp.ratelimit -> cards"),
        # No app reaches into another's internals (here, the review app's views).
        (
            "cards/reminders/sending.py",
            "from cards.review.views import home  # noqa",
            "cards.reminders.sending -> cards.review.views (l.",
        ),
        # The layers: review sits below challenges and may not import it, even through public models.
        (
            "cards/review/queue.py",
            "from cards.challenges.models import Challenge  # noqa",
            "cards.review.queue -> cards.challenges.models",
        ),
        # The content app imports none of the apps built on it.
        ("cards/seed_loader.py", "from cards.review import models  # noqa", "cards.seed_loader -> cards.review"),
        # No cycles: here the registry's module and the grading base would import each other.
        ("cards/grading/base.py", "from cards.grading import graders  # noqa", ".base -> .graders"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(copy, module, line, broken):
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}\n")
    done = lint(copy)
    assert done.returncode == 1, done.stdout
    assert "BROKEN" in done.stdout and broken in done.stdout
