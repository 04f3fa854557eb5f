"""One run of the blocking-call challenge: a fresh network namespace, the fixture, the sandboxed harness.

The learner's code runs only inside the sandbox (run_python). What the verdict rests on
is gathered here, outside it:

- the kernel's view of the loop's thread (kernel.LoopWatch), started from the recorder's
  handshake, which the harness sends before the learner's module is imported; the kernel
  names the sending process (SCM_CREDENTIALS) and /proc confirms the loop's epoll descriptor;
- the fixture server's records (fixture_server.py, in the run's network namespace, outside
  the sandbox's process tree): each request's token, times and the body it sent;
- the moment the URLs were handed to the sandbox, on the grader's clock: nothing in the
  process knew them before.

Results travel through the process (they are the learner's return values), so they count
only when they equal a body the fixture sent for that call's URL.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cards.grading import kernel
from cards.grading.base import GradingError
from cards.grading.measure import Event, Handshake, Recorder, Recording, harness_source
from cards.sandbox import NetworkNamespace, SandboxLimits, SandboxResult, SandboxUnavailable, run_python

PACKAGE = Path(__file__).resolve().parent
FIXTURE = PACKAGE / "fixture_server.py"
HARNESS = (PACKAGE / "harness.py").read_text(encoding="utf-8")
FIXTURE_START_SECONDS = 15.0
REPORT_SECONDS = 15.0
MAX_URL_REPLIES = 3


def _one_ca_certificate() -> str:
    """The first certificate of certifi's bundle: a valid one-certificate bundle for SSL_CERT_FILE."""
    try:
        import certifi

        text = Path(certifi.where()).read_text(encoding="ascii", errors="replace")
    except (ImportError, OSError):
        return ""
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    return text[begin : end + len("-----END CERTIFICATE-----")] + "\n" if begin >= 0 and end > begin else ""


CA_PEM = _one_ca_certificate()


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What one run needs: calls, the server's delay, the loop's timer, sampling, limits."""

    calls: int = 10
    delay: float = 0.25
    tick: float = 0.01  # the harness's timer on the loop: the loop's own selector waits at most this long
    calibrate: float = 0.05  # the idle loop's run before the import, to measure what one tick costs it
    yardstick_runs: int = 5  # runs of the harness's fixed piece of Python before the import: the machine's speed
    interval: float = 0.001  # how often the loop's thread is sampled from outside
    stack_every: float = 0.005  # the in-process watchdog's stack samples (feedback only)
    timeout: float = 20.0
    # Stop early, once the verdict is decided: the loop's thread held (kernel's view) for `stop_held` seconds
    # since the URLs went in, and `stop_results` calls have returned (so their results can be judged), or it
    # held for `stop_held_alone` seconds whatever returned. None: always run to the end.
    stop_held: float | None = None
    stop_results: int = 2
    stop_held_alone: float = 5.0
    limits: SandboxLimits = SandboxLimits(memory_mb=256, cpu_seconds=15, wall_seconds=40, output_bytes=1 << 16)

    @property
    def tick_gap(self) -> float:
        # The loop runs its timer every `tick`; five missed in a row while "waiting" is not the loop waiting.
        return self.tick * 5

    @property
    def max_harness_ticks(self) -> float:
        # The most timer ticks the harness's own CPU is allowed for: those of a window as long as ten calls
        # made one after another, plus a second; a longer window (a long sleep) buys no more.
        return (self.calls * self.delay + 1.0) / self.tick

    @property
    def max_select_ms(self) -> int:
        # The loop rounds its timeout up to whole milliseconds; leave room for a late timer.
        return round(self.tick * 1000) * 2 + 5


@dataclass
class RunOutcome:
    """What was seen of one run, all of it gathered outside the sandbox (except `recording`'s contents)."""

    tokens: list[str]
    report: dict[str, Any]
    recording: Recording
    sandbox: SandboxResult
    handshake: Handshake | None
    urls_at: float | None  # grader's clock: when the URLs first went into the sandbox
    ended: float  # grader's clock: when the loop's process was last seen alive (or the run returned)
    loop: kernel.LoopAccount | None
    notes: list[str] = field(default_factory=list)
    # (ticks, CPU seconds) of the loop's thread running only the harness's timer, before the import; or None
    calibration: tuple[int, float] | None = None
    settings: RunSettings | None = None
    stopped: bool = False  # the grader ended the run early: the loop was already held past the bound
    # CPU seconds of each run of the harness's yardstick (before the import), read from outside; empty if unseen
    yardstick: tuple[float, ...] = ()


class _Fixture:
    """The fixture process, its port read once (by whichever thread needs it first)."""

    def __init__(self, ns: NetworkNamespace, tokens: list[str], delay: float) -> None:
        self.proc = ns.spawn(
            [sys.executable, "-I", str(FIXTURE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.proc.stdin.write(json.dumps({"tokens": tokens, "delay": delay}) + "\n")
        self.proc.stdin.flush()
        self._port: int | None = None
        self._lock = threading.Lock()

    def port(self) -> int:
        with self._lock:
            if self._port is None:
                self._port = int(json.loads(_read_line(self.proc.stdout, FIXTURE_START_SECONDS, "port"))["http_port"])
            return self._port

    def report(self) -> dict[str, Any]:
        self.port()  # the port line comes first, read or not
        self.proc.stdin.close()
        return json.loads(_read_line(self.proc.stdout, REPORT_SECONDS, "report"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


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


class _EarlyStop:
    """Ends the run once its verdict on the loop is decided (RunSettings.stop_held), through run_python's stop_fd.

    The decision rests on the kernel's view (LoopWatch.held_since): time held only grows, so a run held past
    the bound fails whatever comes after. The count of returned calls comes from the process and only says
    when there are results enough to judge; forging it can only end the learner's own run sooner.
    """

    POLL = 0.02

    def __init__(self, settings: RunSettings, watch: list[kernel.LoopWatch], recorder: Recorder, returned: list[int]):
        self.settings = settings
        self.watch = watch
        self.recorder = recorder
        self.returned = returned
        self.fd, self._write = os.pipe2(os.O_CLOEXEC)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grading-early-stop", daemon=True)

    def _run(self) -> None:
        s = self.settings
        while not self._done.wait(self.POLL):
            sent = [at for at, event in list(self.recorder.replied) if event.kind == "urls"]
            if not self.watch or not sent:
                continue
            held = self.watch[0].held_since(sent[0])
            if held >= s.stop_held and (self.returned[0] >= s.stop_results or held >= s.stop_held_alone):
                os.write(self._write, b"x")
                return

    def __enter__(self) -> _EarlyStop:
        if self.settings.stop_held is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        for fd in (self.fd, self._write):
            os.close(fd)


def _check_loop_fd(handshake: Handshake) -> int:
    """The loop's epoll descriptor as the harness named it, confirmed in /proc (the kernel's table)."""
    pid = handshake.pid
    epfd = handshake.info.get("epoll_fd")
    if not isinstance(epfd, int) or isinstance(epfd, bool):
        raise GradingError("the harness did not name its event loop's epoll descriptor")
    try:
        target = os.readlink(f"/proc/{pid}/fd/{epfd}")
    except OSError as exc:
        raise kernel.KernelViewUnavailable(f"cannot read /proc/{pid}/fd/{epfd}: {exc}") from exc
    if target != "anon_inode:[eventpoll]" or kernel.loop_epoll_fd(pid) != epfd:
        raise GradingError(f"descriptor {epfd} of the harness is not its only epoll ({target})")
    if kernel.threads_of(pid) != [pid]:
        raise GradingError("the harness had more than one thread before the learner's code was imported")
    return epfd


def run_once(code: str, settings: RunSettings) -> RunOutcome:
    """Run `code` as solution.py under the harness, against a fresh fixture; return what was seen."""
    tokens = [secrets.token_urlsafe(16) for _ in range(settings.calls)]
    spec = {
        "tick": settings.tick,
        "calibrate": settings.calibrate,
        "yardstick_runs": settings.yardstick_runs,
        "timeout": settings.timeout,
        "sample": settings.stack_every,
    }
    watch: list[kernel.LoopWatch] = []
    urls_at: list[float] = []
    fixture: _Fixture | None = None
    returned_calls = [0]  # "result" events seen: untrusted, used only to time an early stop
    seen = [0]  # events after the handshake, in order
    yard_cpu: list[int] = []  # the loop thread's CPU (ns) at each yardstick question, read before answering it

    def on_ready(handshake: Handshake) -> None:
        epfd = _check_loop_fd(handshake)
        watch.append(
            kernel.LoopWatch(
                handshake.pid,
                epfd,
                interval=settings.interval,
                max_select_ms=settings.max_select_ms,
                tick_gap=settings.tick_gap,
            ).start()
        )

    def on_event(event: Event) -> bytes | None:
        seen[0] += 1
        # The yardstick's questions come right after "calibrated", before the learner's module is imported:
        # only those, from the harness's own process, are answered: exactly runs + 1 of them, all in a row
        # (the same kind later, from the learner's code, is ignored).
        if event.kind == "yardstick":
            asked = len(yard_cpu)
            if watch and event.pid == watch[0].pid and seen[0] == asked + 2 and asked <= settings.yardstick_runs:
                sample = kernel.read_thread(watch[0].pid, watch[0].tid)
                if sample is not None:
                    yard_cpu.append(sample.cpu_ns)
                    return b"go"
            return None
        if event.kind == "result":
            returned_calls[0] += 1
        # Anything in the sandbox may ask; the URLs are what the learner's code is meant to get anyway.
        # The first answer starts the measured window: nothing in the process knew them before it.
        if event.kind != "urls" or len(urls_at) >= MAX_URL_REPLIES or fixture is None:
            return None
        port = fixture.port()
        urls_at.append(time.monotonic())  # replaced below by the time the reply went out
        return b"urls " + json.dumps([f"http://127.0.0.1:{port}/data/{token}" for token in tokens]).encode()

    files = {"main.py": HARNESS, "_events.py": harness_source("events"), "solution.py": code}
    if CA_PEM:
        files["ca.pem"] = CA_PEM
    try:
        with NetworkNamespace() as ns:
            fixture = _Fixture(ns, tokens, settings.delay)
            try:
                with (
                    Recorder(on_ready, on_event) as recorder,
                    _EarlyStop(settings, watch, recorder, returned_calls) as stop,
                ):
                    result = run_python(
                        files=files,
                        entry="main.py",
                        args=[str(recorder.fd), json.dumps(spec)],
                        limits=settings.limits,
                        netns=ns,
                        pass_fds=(recorder.fd,),
                        stop_fd=stop.fd,
                    )
                    returned = time.monotonic()
                    recording = recorder.finish()
                    handshake, handshake_error = recorder.handshake, recorder.handshake_error
                    sent = [at for at, event in recorder.replied if event.kind == "urls"]
                report = fixture.report()
            finally:
                for w in watch:
                    w.stop()
                fixture.close()
    except SandboxUnavailable as exc:
        raise GradingError(f"the sandbox is unavailable, so the code was not run: {exc}") from exc
    except (OSError, ValueError, KeyError) as exc:
        # Our own pieces (the fixture process, its pipes, its report) failed: not the learner's doing.
        raise GradingError(f"the fixture server failed: {exc!r}") from exc
    if handshake_error is not None:
        raise GradingError(f"watching the run from outside failed: {handshake_error}")
    if handshake is None or not watch:
        # The harness announces itself before the learner's module is imported: this is our failure.
        raise GradingError(
            f"the harness did not start (sandbox status {result.status}, exit {result.exit_code}): "
            f"{result.stderr[-500:]}"
        )
    loop_watch = watch[0]
    ended = loop_watch.exited_at or returned
    # The window opens when the URLs went out (just after the send): the process could not know them before.
    start = sent[0] if sent else None
    loop = loop_watch.account(start, ended) if start is not None else None
    # The calibration: the harness's second event, sent before it imports the learner's module (nothing else
    # could send anything yet). Between the handshake and it, only the harness's timer ran on the idle loop.
    calibration = None
    events = recording.events
    if len(events) >= 2 and events[1].kind == "calibrated" and events[1].pid == handshake.pid:
        calibration = loop_watch.tick_cost(handshake.at, events[1].at)
    return RunOutcome(
        tokens=tokens,
        report=report,
        recording=recording,
        sandbox=result,
        handshake=handshake,
        urls_at=start,
        ended=ended,
        loop=loop,
        calibration=calibration,
        settings=settings,
        stopped=result.status == "stopped",
        yardstick=tuple((b - a) / 1e9 for a, b in zip(yard_cpu, yard_cpu[1:], strict=False)),
    )
