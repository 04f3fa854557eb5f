"""One run of the blocking-call challenge: a fresh network namespace, the fixture, the sandboxed harness.

The learner's code runs only inside the sandbox (run_python). The fixture server is
trusted and runs in the same network namespace, so it is the only thing the code can
reach, and it records everything the grader judges by.
"""

from __future__ import annotations

import json
import secrets
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cards.grading.base import GradingError
from cards.sandbox import NetworkNamespace, SandboxLimits, SandboxResult, SandboxUnavailable, run_python

PACKAGE = Path(__file__).resolve().parent
FIXTURE = PACKAGE / "fixture_server.py"
HARNESS = (PACKAGE / "harness.py").read_text(encoding="utf-8")
FIXTURE_START_SECONDS = 15.0
REPORT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What one run needs: how many calls, how slow the server is, the heartbeat's pace, the limits."""

    calls: int = 10
    delay: float = 0.25
    interval: float = 0.01
    stale: float = 0.04
    sample: float = 0.05
    timeout: float = 20.0
    limits: SandboxLimits = SandboxLimits(memory_mb=256, cpu_seconds=15, wall_seconds=40, output_bytes=1 << 16)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The fixture's report, the tokens each call was given, and what the sandbox said."""

    report: dict[str, Any]
    tokens: list[str]
    sandbox: SandboxResult


def _read_line(stream: Any, seconds: float, what: str) -> str:
    """One line from a pipe, or GradingError after `seconds` (the fixture is ours: it must answer)."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(seconds):
            raise GradingError(f"the fixture server did not send its {what} within {seconds:.0f} s")
    line = stream.readline()
    if not line:
        raise GradingError(f"the fixture server ended without sending its {what}")
    return line


def run_once(code: str, settings: RunSettings) -> RunOutcome:
    """Run `code` as solution.py under the harness, against a fresh fixture; return what the fixture saw."""
    tokens = [secrets.token_urlsafe(12) for _ in range(settings.calls)]
    try:
        with NetworkNamespace() as ns:
            server = ns.spawn(
                [sys.executable, "-I", str(FIXTURE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                server.stdin.write(json.dumps({"tokens": tokens, "delay": settings.delay}) + "\n")
                server.stdin.flush()
                ports = json.loads(_read_line(server.stdout, FIXTURE_START_SECONDS, "ports"))
                config = {
                    "control_port": ports["control_port"],
                    "beat_port": ports["beat_port"],
                    "urls": [f"http://127.0.0.1:{ports['http_port']}/data/{token}" for token in tokens],
                    "interval": settings.interval,
                    "stale": settings.stale,
                    "sample": settings.sample,
                    "timeout": settings.timeout,
                }
                result = run_python(
                    files={"main.py": HARNESS, "solution.py": code},
                    entry="main.py",
                    args=[json.dumps(config)],
                    limits=settings.limits,
                    netns=ns,
                )
                server.stdin.close()
                report = json.loads(_read_line(server.stdout, REPORT_SECONDS, "report"))
            finally:
                if server.poll() is None:
                    server.kill()
                server.wait()
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable: {exc}") from exc
    except (OSError, ValueError, KeyError) as exc:
        # Our own pieces (the fixture process, its pipes, its report) failed: not the learner's doing.
        raise GradingError(f"the fixture server failed: {exc!r}") from exc
    if not any(m.get("t") == "hello" for m in report["messages"]):
        # The harness says hello before the learner's module is imported, so this is our failure, not theirs.
        raise GradingError(
            f"the harness never reached the fixture (sandbox status {result.status}, "
            f"exit {result.exit_code}): {result.stderr[-500:]}"
        )
    return RunOutcome(report=report, tokens=tokens, sandbox=result)
