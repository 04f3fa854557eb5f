"""Measuring a sandboxed run from outside: an event recorder and an HTTP fixture server.

The verdicts of the measured graders (cpu_offload, bounded_fanout, gil_parallelism,
await_interleaving, spot_blocking) rest on what these see, not on what the
sandboxed process prints:

- `Recorder` hands the sandbox one end of a socket pair; a trusted harness in
  the sandbox writes short event lines to it (heartbeat ticks, phase markers,
  results) and a thread here stamps each line with *our* monotonic clock as it
  arrives. Patching clocks inside the sandbox changes nothing here.
- `HttpFixture` runs fixtures/http_fixture.py inside the run's network
  namespace; it counts requests in flight and keeps the secret values it sent.

Django-free, like every grader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import GradingError, Verdict

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
HARNESS_DIR = Path(__file__).resolve().parent / "harness"

# A flood of events (learner code can write to the recorder's socket too) must not eat the worker's memory.
MAX_RECORDED_BYTES = 8 * 1024 * 1024
MAX_EVENT_BYTES = 256 * 1024
MAX_EVENTS = 200_000
# Params come from authors in the admin: looser than this is a mistake, not a need.
LIMIT_CAPS = {"wall_seconds": 120, "cpu_seconds": 60, "memory_mb": 1024, "max_processes": 256, "open_files": 4096}
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python 3.11 does not export it


@dataclass(frozen=True, slots=True)
class Event:
    """One line the harness wrote, stamped with the grader's monotonic clock on arrival."""

    at: float
    kind: str
    payload: str = ""
    pid: int | None = None  # the sending process, as the kernel vouches for it (SCM_CREDENTIALS), in our pid space


@dataclass(frozen=True, slots=True)
class Handshake:
    """The harness's announcement, before any learner code ran: its pid (as the kernel vouches) and facts."""

    pid: int
    at: float
    info: Mapping[str, Any]


@dataclass
class Recording:
    """Every event of one run, in arrival order."""

    events: list[Event] = field(default_factory=list)
    truncated: bool = False

    def of_kind(self, kind: str) -> list[Event]:
        """The events named `kind`, in arrival order."""
        return [event for event in self.events if event.kind == kind]

    def first(self, kind: str, payload: str | None = None) -> Event | None:
        """The first event named `kind` (with that payload, if given)."""
        for event in self.events:
            if event.kind == kind and (payload is None or event.payload == payload):
                return event
        return None

    def between(self, start: float, end: float, kind: str) -> list[Event]:
        """The events named `kind` that arrived between `start` and `end`."""
        return [e for e in self.events if e.kind == kind and start <= e.at <= end]

    def phase(self, name: str) -> tuple[float, float] | None:
        """Arrival times of `begin NAME` and `end NAME`, or None if the phase did not finish."""
        begin = self.first("begin", name)
        end = self.first("end", name)
        if begin is None or end is None or end.at < begin.at:
            return None
        return begin.at, end.at

    def json_payload(self, kind: str) -> Any:
        """The JSON payload of the first `kind` event, or None if absent or not JSON."""
        event = self.first(kind)
        if event is None:
            return None
        try:
            return json.loads(event.payload)
        except ValueError:
            return None


class Recorder:
    """A datagram socket pair whose far end goes to the sandbox; each datagram is one event.

    The kernel stamps every datagram as it is queued (SO_TIMESTAMPNS), in the
    sender's system call: the time is neither the sandboxed process's clock
    (which its code could patch) nor this reader thread's (late when the
    machine is loaded). It also names the sending process (SCM_CREDENTIALS),
    so the grader knows which process did what. Use as a context manager around
    `run_python(..., pass_fds=(rec.fd,))`, then `finish()` for the Recording.

    `on_event(event)`, if given, sees every later event on the reader thread as it
    arrives; bytes it returns are sent back to the sandbox (a reply the harness reads
    from the same descriptor). Anything in the sandbox may send events: a reply must
    give away nothing the grader would not give the learner's code.
    """

    def __init__(
        self,
        on_ready: Callable[[Handshake], None] | None = None,
        on_event: Callable[[Event], bytes | None] | None = None,
    ) -> None:
        self._on_ready = on_ready
        self._on_event = on_event
        self.replied: list[tuple[float, Event]] = []  # (grader's clock just after the reply went out, the request)
        self.handshake: Handshake | None = None
        self.handshake_error: str | None = None
        self._ours, self._theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._ours.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        os.set_inheritable(self._theirs.fileno(), True)
        # Kernel stamps are wall-clock; events are kept on the monotonic clock the rest of grading uses.
        self._offset = time.time() - time.monotonic()
        self._recording = Recording()
        # Secret, so that code in the sandbox cannot end the recording early by sending it.
        self._stop_marker = b"\x00stop " + secrets.token_bytes(16)
        self._thread = threading.Thread(target=self._read, name="grading-recorder", daemon=True)
        self._thread.start()

    @property
    def fd(self) -> int:
        """The file descriptor to pass into the sandbox (pass_fds) and name to the harness."""
        return self._theirs.fileno()

    def _read(self) -> None:
        total = 0
        while True:
            try:
                data, ancillary, _flags, _addr = self._ours.recvmsg(
                    MAX_EVENT_BYTES, socket.CMSG_SPACE(16) + socket.CMSG_SPACE(12)
                )
            except OSError:
                return
            if data == self._stop_marker:
                return
            if not data:
                continue
            at, pid = time.monotonic(), None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    at = seconds + nanoseconds / 1e9 - self._offset
                elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(value) >= 12:
                    pid = struct.unpack("3i", value[:12])[0]
            total += len(data)
            if total > MAX_RECORDED_BYTES or len(self._recording.events) >= MAX_EVENTS:
                self._recording.truncated = True
                continue  # keep draining so the writer never blocks, but keep nothing more
            text = data.rstrip(b"\n").decode("utf-8", errors="replace")
            kind_, _, payload = text.partition(" ")
            first = not self._recording.events
            event = Event(at, kind_, payload, pid)
            self._recording.events.append(event)
            if first and self._on_ready is not None:
                self._shake(kind_, payload, pid, at)
            elif not first and self._on_event is not None:
                self._reply(event)

    def _shake(self, kind: str, payload: str, pid: int | None, at: float) -> None:
        """The harness's first event, sent before the learner's module is imported: the only one trusted.

        The kernel names the sender (SCM_CREDENTIALS), so the pid is the harness's own; the
        grader's `on_ready` starts watching it, and only then is the harness told to go on.
        """
        try:
            if kind != "ready" or pid is None:
                raise GradingError(f"the harness did not announce itself first (it sent {kind!r})")
            try:
                info = json.loads(payload or "{}")
            except ValueError as exc:
                raise GradingError(f"the harness's announcement is unreadable: {exc}") from exc
            self.handshake = Handshake(pid=pid, at=at, info=info)
            self._on_ready(self.handshake)
        except Exception as exc:  # noqa: BLE001  (reported by run_harness as a GradingError)
            self.handshake_error = str(exc) or type(exc).__name__
        with contextlib.suppress(OSError):
            self._ours.send(b"go")

    def _reply(self, event: Event) -> None:
        try:
            answer = self._on_event(event)
        except Exception as exc:  # noqa: BLE001  (reported like a failed handshake: our side failed)
            self.handshake_error = self.handshake_error or f"answering {event.kind!r}: {exc}"
            return
        if answer:
            with contextlib.suppress(OSError):
                self._ours.send(answer)
                # After the send: until now nothing in the sandbox could have read the reply.
                self.replied.append((time.monotonic(), event))

    def finish(self, timeout: float = 5.0) -> Recording:
        """Wait until every datagram already sent has been read, then return what arrived.

        A datagram socket has no end-of-file, so a marker sent from here, queued
        behind everything the sandbox sent, tells the reader it has seen it all.
        """
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._theirs.send(self._stop_marker)
            self._thread.join(timeout)
        return self._recording

    def close(self) -> None:
        """Release both ends."""
        for sock in (self._theirs, self._ours):
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(1.0)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish(timeout=1.0)
        self.close()


@dataclass(frozen=True, slots=True)
class FixtureCall:
    """One /item request as the fixture saw it, on the fixture's own clock (outside the sandbox)."""

    connection: int
    item: int
    token: str  # made for this one request: only its response carried it
    start: float
    end: float | None  # None: the response was never fully written


@dataclass(frozen=True, slots=True)
class FixtureStep:
    """One /step request: the label a registered task's connection reported, in the order the fixture got them."""

    connection: int
    task: str | None  # the task the connection was bound to by /hello (None: not bound)
    label: str
    accepted: bool
    why: str  # why it was refused ("" when accepted)
    time: float


@dataclass(frozen=True, slots=True)
class FixtureReport:
    """What the HTTP fixture saw: every request with its timing and the secret it answered with."""

    max_in_flight: int
    requests: int
    item_requests: Mapping[int, int]
    slow_requests: int
    bad_requests: int
    calls: tuple[FixtureCall, ...] = ()
    steps: tuple[FixtureStep, ...] = ()
    hellos: tuple[tuple[int, str, bool], ...] = ()
    unrecorded: int = 0  # requests past the fixture's record cap (a flood)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FixtureReport:
        return cls(
            max_in_flight=int(data["max_in_flight"]),
            requests=int(data["requests"]),
            item_requests={int(k): int(v) for k, v in data["item_requests"].items()},
            slow_requests=int(data["slow_requests"]),
            bad_requests=int(data["bad_requests"]),
            calls=tuple(
                FixtureCall(int(c), int(i), str(t), float(s), None if e is None else float(e))
                for c, i, t, s, e in data.get("calls", ())
            ),
            steps=tuple(
                FixtureStep(int(c), None if t is None else str(t), str(lb), bool(a), str(w), float(tm))
                for c, t, lb, a, w, tm in data.get("steps", ())
            ),
            hellos=tuple((int(c), str(t), bool(a)) for c, t, a in data.get("hellos", ())),
            unrecorded=int(data.get("unrecorded", 0)),
        )


class HttpFixture:
    """fixtures/http_fixture.py running inside a network namespace (the sandbox's), on 127.0.0.1 there.

    `ns` is a cards.sandbox.NetworkNamespace (anything with `spawn(argv, **popen_kwargs)`).
    """

    def __init__(
        self, ns: Any, *, items: int = 0, delay_ms: int = 0, tasks: int = 0, start_timeout: float = 10.0
    ) -> None:
        # A fresh secret per run, kept here and in the fixture (outside the sandbox); /hello and /step need it.
        self.secret = secrets.token_hex(16) if tasks else ""
        argv = [
            sys.executable,
            "-I",  # standard library only: no site-packages, no environment, a faster start
            "-S",
            str(FIXTURES_DIR / "http_fixture.py"),
            "--items",
            str(items),
            "--delay-ms",
            str(delay_ms),
            "--tasks",
            str(tasks),
            "--secret",
            self.secret,
        ]
        try:
            self._proc: subprocess.Popen[bytes] = ns.spawn(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            raise GradingError(f"could not start the HTTP fixture: {exc}") from exc
        line = self._readline(start_timeout)
        if not line.startswith("READY "):
            self.close()
            raise GradingError(f"the HTTP fixture did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _readline(self, timeout: float) -> str:
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        data = b""
        fd = self._proc.stdout.fileno()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return data.decode(errors="replace")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").strip()

    def report(self, timeout: float = 10.0) -> FixtureReport:
        """Ask the fixture what it saw so far."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(b"report\n")
            self._proc.stdin.flush()
        except OSError as exc:
            raise GradingError(f"the HTTP fixture died: {exc}") from exc
        line = self._readline(timeout)
        try:
            return FixtureReport.from_json(json.loads(line))
        except (ValueError, KeyError) as exc:
            raise GradingError(f"the HTTP fixture sent an unreadable report: {exc}") from exc

    def close(self) -> None:
        """Stop the fixture and reap it."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> HttpFixture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def harness_source(name: str) -> str:
    """The text of harness/NAME.py, which runs as main.py inside the sandbox."""
    return (HARNESS_DIR / f"{name}.py").read_text(encoding="utf-8")


def clip(text: str, limit: int = 1500) -> str:
    """The last `limit` characters of learner-produced text, for a verdict's own fields only."""
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# What a verdict keeps of each of the learner's streams: the start and the end (where a traceback is).
OUTPUT_HEAD_CHARS = 1000
OUTPUT_TAIL_CHARS = 3000


def cap_output(text: str) -> str:
    """`text` with its middle left out (and said so) when it is longer than the verdict keeps."""
    if len(text) <= OUTPUT_HEAD_CHARS + OUTPUT_TAIL_CHARS:
        return text
    cut = len(text) - OUTPUT_HEAD_CHARS - OUTPUT_TAIL_CHARS
    head, tail = text[:OUTPUT_HEAD_CHARS], text[-OUTPUT_TAIL_CHARS:]
    return f"{head}\n[... {cut:,} characters left out ...]\n{tail}"


def program_output(result: Any) -> dict[str, str]:
    """What the learner's program wrote to stdout and stderr (a SandboxResult's), capped, for the page.

    Shown to the learner as their program's output, never read for a verdict: the code writes what it likes.
    """
    return {"stdout": cap_output(result.stdout), "stderr": cap_output(result.stderr)}


def with_output(verdict: Verdict, run: Run) -> Verdict:
    """`verdict` carrying what the learner's program wrote in `run`."""
    return dataclasses.replace(verdict, output=program_output(run.result))


def last_traceback_line(stderr: str) -> str:
    """The final line of a Python traceback in `stderr` (e.g. `NameError: name 'x' is not defined`)."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


_NEVER_AWAITED = re.compile(r"solution\.py:(\d+): RuntimeWarning: coroutine '([^']+)' was never awaited")


def never_awaited(stderr: str, code: str) -> list[str]:
    """'Line N: `source` ...' for each coroutine of solution.py that Python warned was never awaited.

    Python's own warning on stderr (feedback only: the learner's code can print anything there).
    """
    lines = code.splitlines()
    out: list[str] = []
    for match in _NEVER_AWAITED.finditer(stderr):
        number, name = int(match.group(1)), match.group(2)
        source = lines[number - 1].strip() if 0 < number <= len(lines) else f"{name}(...)"
        text = (
            f"Line {number}: `{source}` makes a coroutine that was never awaited, so it did nothing: calling "
            f"an async function only creates the coroutine; without `await` it never runs and the task never "
            f"pauses there. Write `await {source}`."
        )
        if text not in out:
            out.append(text)
    return out[:5]


def require_params(params: Mapping[str, Any], spec: Mapping[str, tuple[type, Any]]) -> dict[str, Any]:
    """Check `params` against {name: (type, default)} (default `...` = required); return them with defaults.

    Raises GradingError naming every problem, so an author sees at once what to fix in the admin.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for name, (kind, default) in spec.items():
        if name not in params:
            if default is ...:
                problems.append(f"'{name}' is required")
            else:
                out[name] = default
            continue
        value = params[name]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            problems.append(f"'{name}' must be {kind.__name__}, not {type(value).__name__}")
        out[name] = value
    unknown = sorted(set(params) - set(spec))
    if unknown:
        problems.append(f"unknown parameter(s) {', '.join(unknown)} (known: {', '.join(spec)})")
    if problems:
        raise GradingError("grader params: " + "; ".join(problems))
    return out


def ms(seconds: float) -> int:
    """Seconds as whole milliseconds, for messages and `measured` dicts."""
    return round(seconds * 1000)


def join_lines(items: Iterable[str]) -> str:
    """Feedback paragraphs joined by blank lines, empty ones dropped."""
    return "\n\n".join(item for item in items if item)


@dataclass(frozen=True, slots=True)
class Run:
    """One sandboxed harness run: what the sandbox measured and what the recorder heard."""

    result: Any  # cards.sandbox.SandboxResult
    recording: Recording
    handshake: Handshake | None = None

    @property
    def error(self) -> str | None:
        """The harness's report of a learner error (import failed, wrong signature, exception), if any."""
        event = self.recording.first("error")
        return event.payload if event else None

    def describe_failure(self) -> str:
        """Plain words for a run that did not finish: the harness's error, a limit, or the exit."""
        if self.error:
            return self.error
        result = self.result
        if result.status == "timeout":
            return f"the run was stopped by the sandbox's {result.limit_hit or 'time'} limit"
        if result.status == "memory":
            return "the run was stopped for using too much memory"
        if result.status == "output_limit":
            return "the run printed more output than allowed and was stopped"
        if result.signal_name:
            return f"the process was killed by {result.signal_name}"
        tail = last_traceback_line(result.stderr)
        return f"the process exited with code {result.exit_code}" + (f" ({tail})" if tail else "")


def run_harness(
    harness: str,
    files: Mapping[str, str],
    spec: Mapping[str, Any],
    limits: Mapping[str, float],
    netns: Any = None,
    on_ready: Callable[[Handshake], None] | None = None,
) -> Run:
    """Run harness/HARNESS.py as main.py beside `files` in the sandbox, recording its events.

    Raises GradingError when no sandbox can be had: learners' code never runs anywhere else.
    With `on_ready`, the harness must call `_events.ready()` before importing the learner's
    module; `on_ready(handshake)` runs (on the recorder's thread) before the harness goes on,
    so the grader can start watching the process from outside (see kernel.py).
    """
    from cards.sandbox import SandboxLimits, SandboxUnavailable, config, run_python

    all_files = {
        "main.py": harness_source(harness),
        "_events.py": harness_source("events"),
        "work.py": harness_source("work"),
        "fetch.py": harness_source("fetch"),
        **files,
    }
    too_loose = [f"{name} <= {cap}" for name, cap in LIMIT_CAPS.items() if float(limits.get(name, 0)) > cap]
    if too_loose:
        raise GradingError(f"grader limits: {', '.join(too_loose)} at most")
    try:
        # The configured defaults (the app's SANDBOX_* settings), with the grader's own limits over them.
        sandbox_limits = SandboxLimits(**{**config.current().limits.to_dict(), **limits})
    except (TypeError, ValueError) as exc:
        raise GradingError(f"grader limits: {exc}") from exc
    with Recorder(on_ready) as recorder:
        try:
            result = run_python(
                files=all_files,
                entry="main.py",
                args=[str(recorder.fd), json.dumps(spec)],
                limits=sandbox_limits,
                netns=netns,
                pass_fds=(recorder.fd,),
            )
        except SandboxUnavailable as exc:
            raise GradingError(f"the sandbox is unavailable, so the code was not run: {exc}") from exc
        recording = recorder.finish()
        if on_ready is not None and recorder.handshake_error is None and recorder.handshake is None:
            # No announcement at all: the harness died before it (the learner's code had not run yet).
            raise GradingError(f"the harness did not start ({last_traceback_line(result.stderr) or result.status})")
        if recorder.handshake_error is not None:
            raise GradingError(f"watching the run from outside failed: {recorder.handshake_error}")
    return Run(result=result, recording=recording, handshake=recorder.handshake)
