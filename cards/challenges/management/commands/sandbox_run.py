"""Run a Python file in the sandbox: `manage.py sandbox_run FILE [--json]`.

The same cards.sandbox.run_python the grading worker calls, with the limits from settings.SANDBOX_*
unless tightened by the options. Without --json the run's stdout and stderr are copied to this
command's stdout and stderr, and one status line goes to stderr. With --json the last line of stdout
is the SandboxResult as one JSON object. Needs no database and no Redis (no ORM is touched); needs
root and the sandbox installed (scripts/install_sandbox.sh). Exit status: 0 when the run's status is
"ok", 1 when it is not, 2 for a bad argument (an unreadable file, a bad limit), 3 when the sandbox is unavailable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cards.sandbox import SandboxUnavailable, config, run_python

LIMIT_OPTIONS: dict[str, type] = {
    "memory_mb": int,
    "cpu_seconds": float,
    "wall_seconds": float,
    "output_bytes": int,
    "tmp_mb": int,
    "max_processes": int,
}


class Command(BaseCommand):
    help = "Run a Python file under the sandbox and report its status, output, time and limits."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the Python file to run (its name inside is main.py)")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object, last line")
        parser.add_argument(
            "--with", dest="extra", action="append", type=Path, default=[], metavar="FILE",
            help="another file to put beside it (same name), e.g. a module it imports; repeatable",
        )  # fmt: skip
        parser.add_argument("--stdin", type=Path, help="a file whose bytes are the run's standard input")
        parser.add_argument(
            "program_args", nargs="*", metavar="ARG", help="arguments after the file (put them after --)"
        )
        for name, kind in LIMIT_OPTIONS.items():
            parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"tighten the {name} limit")

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["file"]
        try:
            files: dict[str, bytes] = {"main.py": source.read_bytes()}
            for extra in options["extra"]:
                files[extra.name] = extra.read_bytes()
            stdin = options["stdin"].read_bytes() if options["stdin"] else b""
        except OSError as error:
            raise CommandError(f"cannot read {error.filename}: {error.strerror}", returncode=2) from error
        overrides = {name: options[name] for name in LIMIT_OPTIONS if options.get(name) is not None}
        try:
            limits = config.current().limits.tightened(**overrides)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from error
        try:
            result = run_python(files, entry="main.py", args=options["program_args"], stdin=stdin, limits=limits)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from error
        except SandboxUnavailable as error:
            # Exit 3, as `grade` does when it cannot run: the sandbox, not the file, is at fault.
            raise CommandError(str(error), returncode=3) from error
        if options["json"]:
            self.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            self.stdout.write(result.stdout, ending="")
            self.stderr.write(result.stderr, ending="")
            limit = f", limit hit: {result.limit_hit}" if result.limit_hit else ""
            how = f"exit code {result.exit_code}" if result.signal is None else f"killed by {result.signal_name}"
            self.stderr.write(f"[sandbox] {result.status}: {how}, {result.wall_seconds:.3f} s wall{limit}")
        if not result.ok:
            sys.exit(1)
