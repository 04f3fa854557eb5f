"""Grade a file against a challenge exactly as the worker would, without saving anything.

    python manage.py grade SLUG FILE [--json]

Same grader, same sandbox, same limits as the Celery worker (both call
cards.challenges.tasks.grade_challenge). With --json the last line on stdout is the
verdict as one JSON object (passed, quality, checks, feedback, timings).

Exit status: 0 graded (passed or not), 2 bad input (unknown challenge, missing,
oversized or non-UTF-8 file), 3 the grader could not run (e.g. no sandbox) or the
database is unreachable or not migrated.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cards.grading import MAX_CODE_BYTES, GradingError, InvalidSubmission, Verdict, check_code
from studyapp.commands import DatabaseCommand
from cards.challenges.models import Challenge
from cards.challenges.tasks import grade_challenge

# Text from the learner's run can reach the verdict's fields: never let it drive the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: object) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def read_code(path: Path) -> str:
    """The file's text, or CommandError (exit 2) saying what is wrong with it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CODE_BYTES + 1)
            if len(data) > MAX_CODE_BYTES:
                # Only the first 64 KiB + 1 were read: name the file's real size, not the bytes read.
                size = os.fstat(handle.fileno()).st_size
                raise CommandError(
                    f"{path}: the code is {size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (64 KiB).", returncode=2
                )
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", returncode=2) from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a folder, not a file", returncode=2) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read it ({exc.strerror})", returncode=2) from None
    try:
        return check_code(data)
    except InvalidSubmission as exc:
        raise CommandError(f"{path}: {exc}", returncode=2) from None


def find_challenge(slug: str) -> Challenge:
    """The challenge with this slug, or CommandError (exit 2) listing the known ones."""
    challenge = Challenge.objects.filter(slug=slug).first()
    if challenge is not None:
        return challenge
    known = list(Challenge.objects.order_by("slug").values_list("slug", flat=True))
    if not known:
        raise CommandError(
            f"no challenge {slug!r}: the database has no challenges; run 'python manage.py load_challenges' first",
            returncode=2,
        )
    raise CommandError(f"no challenge {slug!r}; known challenges: {', '.join(known)}", returncode=2)


class Command(DatabaseCommand):
    help = "Grade FILE against challenge SLUG in the sandbox, as the worker would; nothing is saved."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The challenge's slug (see the admin, or load_challenges).")
        parser.add_argument("file", type=Path, help="The Python file to grade.")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="End with the verdict as one JSON line."
        )

    def handle(self, *args: Any, slug: str, file: Path, as_json: bool, **options: Any) -> None:
        challenge = find_challenge(slug)
        code = read_code(file)
        try:
            verdict = grade_challenge(challenge, code)
        except GradingError as exc:
            raise CommandError(f"the grader could not run: {exc}", returncode=3) from None
        except InvalidSubmission as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        if as_json:
            self.stdout.write(verdict_json(verdict))
        else:
            self.write_report(challenge, verdict)

    def write_report(self, challenge: Challenge, verdict: Verdict) -> None:
        """The verdict for a person: overall result, one line per check, then the feedback."""
        outcome = self.style.SUCCESS("PASSED") if verdict.passed else self.style.ERROR("FAILED")
        self.stdout.write(f"{challenge.slug}: {outcome} (quality {verdict.quality}/5)")
        for check in verdict.checks:
            mark = "ok  " if check.passed else "FAIL"
            measured = ", ".join(f"{key}={_safe(value)}" for key, value in check.measured.items())
            self.stdout.write(f"  [{mark}] {_safe(check.name)}" + (f"  ({measured})" if measured else ""))
            if check.message:
                self.stdout.write(f"         {_safe(check.message)}")
        if verdict.feedback:
            self.stdout.write("")
            for line in verdict.feedback.splitlines():
                self.stdout.write(_safe(line))


def verdict_json(verdict: Verdict) -> str:
    """The verdict as one line of JSON (non-ASCII and newlines escaped, so it is always one line)."""
    return json.dumps(verdict.to_dict(), default=str, ensure_ascii=True, separators=(",", ":"))
