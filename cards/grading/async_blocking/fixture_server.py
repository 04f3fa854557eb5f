"""The trusted fixture for the blocking-call challenge: a slow JSON server and a heartbeat observer.

Started by the grader inside the sandbox's network namespace, so it is the only
thing the learner's code can reach. Standard library only; run as a script:

    python fixture_server.py        (configuration as one JSON line on stdin)

Protocol with the grader, over stdin/stdout:

1. the grader writes one JSON line: {"tokens": [...], "delay": 0.4}
2. the server answers one JSON line: {"http_port": P, "control_port": Q}
3. the grader closes stdin when the run is over; the server prints one JSON
   line, its report, and exits.

What it records, each with its own monotonic clock (never the learner's):

- every HTTP request: which token, which connection, HTTP version, when it
  arrived and when its response went out, and the exact body it sent, fresh and
  random for every request, so results can only be right if they were fetched;
- requests in flight at once (a request is in flight from its arrival until its
  response has been written), the figure that shows whether calls overlap;
- the control connection from the harness: heartbeat ticks (`b <n>` lines,
  numbered from 0) and JSON messages (phases, results, watchdog stacks), each
  stamped on arrival. Only the first control connection is the harness's,
  opened before the learner's module is imported; any later one is recorded
  as an intrusion and closed;
- the scheduler's own accounting of the harness's loop thread, sampled every
  few milliseconds from /proc/<pid>/task/<pid>/schedstat (time on a CPU, time
  waiting for one): with it the grader tells a loop held by the learner's code
  (computing, or asleep in a blocking call) from a loop that was only waiting
  for a CPU on a loaded machine. The process is found from outside, by the
  control connection's socket, not by anything it says about itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import string
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_BYTES = 16 * 1024
MAX_CONTROL_LINE = 256 * 1024
MAX_CONTROL_BYTES = 4 * 1024 * 1024
# Caps on what is kept, so a flood from the learner's code cannot make the report huge.
MAX_BEATS = 50_000
MAX_REQUESTS = 20_000
MAX_KEPT_INTRUSIONS = 100
MAX_STACKS = 2_000
MAX_DATAGRAM = 65_536
WORDS = ["loop", "await", "thread", "gil", "socket", "future", "task", "yield", "io", "cpu", "ünïcode", "事件"]


def random_body(rng: random.Random) -> Any:
    """A fresh JSON object of a random shape: numbers, floats, text, booleans, null, lists, nesting."""

    def leaf() -> Any:
        match rng.randrange(6):
            case 0:
                return rng.randrange(-(10**12), 10**12)
            case 1:
                return round(rng.uniform(-1000, 1000), rng.randrange(1, 9))
            case 2:
                return rng.choice(WORDS) + "-" + "".join(rng.choices(string.ascii_letters + string.digits, k=8))
            case 3:
                return rng.random() < 0.5
            case 4:
                return None
            case _:
                return [rng.randrange(1000) for _ in range(rng.randrange(1, 5))]

    def key() -> str:
        return rng.choice(WORDS) + "_" + "".join(rng.choices(string.ascii_lowercase, k=5))

    body: dict[str, Any] = {"id": rng.randrange(10**15), "nonce": "".join(rng.choices(string.hexdigits, k=24))}
    for _ in range(rng.randrange(3, 8)):
        body[key()] = leaf()
    body[key()] = {key(): leaf() for _ in range(rng.randrange(1, 4))}
    return body


@dataclass
class Record:
    """Everything the fixture saw, stamped with its own clock (seconds since it started)."""

    started: float = field(default_factory=time.monotonic)
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_timeline: list[tuple[float, int]] = field(default_factory=list)
    connections: int = 0
    beats: list[float] = field(default_factory=list)
    beat_numbers_ok: bool = True
    beats_lost: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    control_connected: float | None = None
    control_closed: float | None = None
    control_bytes: int = 0
    control_garbage: int = 0
    intrusions: list[float] = field(default_factory=list)
    intrusion_count: int = 0
    stack_count: int = 0
    loop_pid: int | None = None
    sched: list[tuple[float, int, int]] = field(default_factory=list)
    sched_error: str | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    def intrusion(self, stamp: float) -> None:
        """Count a datagram or connection from someone other than the harness (keep the first few)."""
        self.intrusion_count += 1
        if len(self.intrusions) < MAX_KEPT_INTRUSIONS:
            self.intrusions.append(stamp)

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "in_flight_timeline": self.in_flight_timeline,
            "connections": self.connections,
            "beats": self.beats,
            "beat_numbers_ok": self.beat_numbers_ok,
            "beats_lost": self.beats_lost,
            "messages": self.messages,
            "control_connected": self.control_connected,
            "control_closed": self.control_closed,
            "control_garbage": self.control_garbage,
            "intrusions": self.intrusions,
            "intrusion_count": self.intrusion_count,
            "loop_pid": self.loop_pid,
            "sched": self.sched,
            "sched_error": self.sched_error,
            "ended": self.now(),
        }


class Fixture:
    """The HTTP server and the observer, sharing one record."""

    def __init__(self, tokens: list[str], delay: float, rng: random.Random) -> None:
        self.tokens = set(tokens)
        self.delay = delay
        self.rng = rng
        self.record = Record()
        self.beat_source: int | None = None
        self.watchdog_tid: int | None = None
        # Kernel receive stamps are CLOCK_REALTIME; this turns them into the record's clock.
        self.realtime_offset = time.time() - time.monotonic()

    def receive_beats(self, sock: socket.socket) -> None:
        """Record heartbeat datagrams with the kernel's arrival time (immune to this process being late)."""
        rec = self.record
        last = -1
        while True:
            try:
                data, ancillary, _flags, address = sock.recvmsg(MAX_DATAGRAM, 64)
            except OSError:
                return
            stamp = rec.now()
            # The harness names its heartbeat port in its hello, before any of the learner's code has run;
            # a datagram can overtake the hello's processing here, so give the hello a moment to land.
            for _ in range(2000):
                if self.beat_source is not None:
                    break
                time.sleep(0.001)
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    seconds, nanoseconds = struct.unpack("qq", raw[:16])
                    stamp = seconds + nanoseconds / 1e9 - self.realtime_offset - rec.started
            if address[1] != self.beat_source:
                rec.intrusion(stamp)
                continue
            if data.startswith(b"{"):
                self.receive_stack(data, stamp)
                continue
            if not data.startswith(b"b "):
                rec.intrusion(stamp)
                continue
            try:
                number = int(data[2:])
            except ValueError:
                number = -1
            if number <= last:
                rec.beat_numbers_ok = False
            elif number > last + 1:
                rec.beats_lost += number - last - 1
            last = max(last, number)
            if len(rec.beats) >= MAX_BEATS:
                rec.beat_numbers_ok = False  # far more ticks than a run can make: a flood
                continue
            rec.beats.append(stamp)

    def receive_stack(self, data: bytes, stamp: float) -> None:
        """A watchdog stack sample (sent by datagram: no lock shared with the loop thread)."""
        rec = self.record
        try:
            message = json.loads(data)
        except ValueError:
            return  # feedback only: an unreadable sample is dropped, not held against anyone
        if not isinstance(message, dict) or message.get("t") != "stack" or rec.stack_count >= MAX_STACKS:
            return
        rec.stack_count += 1
        message["at"] = stamp
        rec.messages.append(message)

    # -- HTTP ------------------------------------------------------------------

    async def serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec = self.record
        rec.connections += 1
        conn = rec.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                keep_alive = await self.answer(conn, head, reader, writer)
                if not keep_alive:
                    return
        finally:
            writer.close()

    async def answer(self, conn: int, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection stays open."""
        rec = self.record
        arrived = rec.now()
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self.send(writer, "HTTP/1.0", 400, b'{"error": "bad request line"}', keep_alive=False)
            return False
        method, target, version = parts
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(min(length, 1 << 20))
        connection = headers.get("connection", "").lower()
        keep_alive = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        token = target.split("?", 1)[0].removeprefix("/data/")
        if method not in ("GET", "HEAD") or not target.startswith("/data/") or token not in self.tokens:
            body = json.dumps({"error": "not found", "path": target[:200]}).encode()
            await self.send(writer, version, 404, body, keep_alive)
            if len(rec.requests) < MAX_REQUESTS:
                rec.requests.append({"token": None, "target": target[:200], "status": 404, "arrived": arrived})
            return keep_alive

        text = json.dumps(random_body(self.rng), ensure_ascii=self.rng.random() < 0.5)
        entry = {
            "token": token,
            "conn": conn,
            "version": version,
            "method": method,
            "arrived": arrived,
            "body": text,
            "status": 200,
        }
        if len(rec.requests) < MAX_REQUESTS:
            rec.requests.append(entry)
        self.enter()
        try:
            await asyncio.sleep(self.delay)
            await self.send(writer, version, 200, text.encode(), keep_alive, head_only=method == "HEAD")
            entry["released"] = rec.now()
        finally:
            self.leave()
        return keep_alive

    def enter(self) -> None:
        rec = self.record
        rec.in_flight += 1
        rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
        rec.in_flight_timeline.append((rec.now(), rec.in_flight))

    def leave(self) -> None:
        rec = self.record
        rec.in_flight -= 1
        rec.in_flight_timeline.append((rec.now(), rec.in_flight))

    @staticmethod
    async def send(
        writer: asyncio.StreamWriter, version: str, status: int, body: bytes, keep_alive: bool, head_only: bool = False
    ) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        head = [
            f"{version} {status} {reason}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Connection: keep-alive" if keep_alive else "Connection: close",
            "Cache-Control: no-store",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if head_only else body))
        await writer.drain()

    # -- observer ----------------------------------------------------------------

    async def serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec = self.record
        if rec.control_connected is not None:
            # The harness connects once, before the learner's code is imported: anyone else is an intruder.
            rec.intrusion(rec.now())
            writer.close()
            return
        rec.control_connected = rec.now()
        peer_port = writer.get_extra_info("peername")[1]
        local_port = writer.get_extra_info("sockname")[1]
        loop = asyncio.get_running_loop()

        def ready() -> None:
            # Tell the harness it may start the calls: the loop thread is being sampled from now on.
            loop.call_soon_threadsafe(writer.write, b"go\n")

        sampler = threading.Thread(target=self.sample_loop_thread, args=(peer_port, local_port, ready), daemon=True)
        sampler.start()
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.LimitOverrunError:
                    rec.control_garbage += 1
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                stamp = rec.now()
                rec.control_bytes += len(line)
                if rec.control_bytes > MAX_CONTROL_BYTES:
                    rec.control_garbage += 1
                    return
                try:
                    message = json.loads(line)
                except ValueError:
                    rec.control_garbage += 1
                    continue
                if isinstance(message, dict):
                    message["at"] = stamp
                    if message.get("t") == "hello" and isinstance(message.get("beat_port"), int):
                        self.beat_source = message["beat_port"]
                        if isinstance(message.get("watchdog_tid"), int):
                            self.watchdog_tid = message["watchdog_tid"]
                    rec.messages.append(message)
                else:
                    rec.control_garbage += 1
        finally:
            rec.control_closed = rec.now()
            writer.close()

    def sample_loop_thread(self, peer_port: int, local_port: int, ready: Callable[[], None]) -> None:
        """Find the harness's process by its socket, then sample its main thread's scheduler accounting."""
        rec = self.record
        try:
            pid = find_socket_owner(peer_port, local_port)
        except OSError as exc:
            rec.sched_error = f"cannot find the harness process: {exc}"
            return
        if pid is None:
            rec.sched_error = "cannot find the harness process: no process holds its socket"
            return
        rec.loop_pid = pid
        others = OtherThreads(pid, self)
        waits = WaitProbe(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/schedstat", "rb", buffering=0) as handle:
                tick = 0
                while True:
                    handle.seek(0)
                    fields = handle.read(200).split()
                    if not fields:
                        return
                    if tick % OTHERS_EVERY == 0:
                        others.read()
                    tick += 1
                    cpu, runq, slices = int(fields[0]), int(fields[1]), int(fields[2])
                    state = waits.state()
                    rec.sched.append((rec.now(), cpu, runq, others.cpu, others.runq, slices, state, others.load))
                    if tick == 1:
                        ready()
                    time.sleep(SCHED_PERIOD)
        except (OSError, ValueError, IndexError):
            return  # the process is gone: the last sample stands for its end
        finally:
            others.close()
            waits.close()


# What the loop thread is doing at a sample, from /proc/<pid>/task/<pid>/syscall:
UNKNOWN, GIL_WAIT, OTHER_WAIT = 0, 1, 2
FUTEX = {"x86_64": 202, "aarch64": 98}.get(platform.machine())
GIL_WAIT_LONGEST = 0.006  # CPython's GIL wait times out every 5 ms switch interval


class WaitProbe:
    """Tells a thread waiting for the GIL from one waiting on anything else, from outside.

    A thread waiting for the GIL sits in a futex wait whose deadline is at most one switch
    interval (5 ms) away; a socket read, a sleep, a join, a `Future.result()` or a `Queue.get`
    is another system call, a futex wait without a deadline, or one with a distant deadline.
    The deadline is read from the process's memory (/proc/<pid>/mem), as a debugger would.
    """

    def __init__(self, pid: int) -> None:
        self.syscall: int | None = None
        self.mem: int | None = None
        with contextlib.suppress(OSError):
            self.syscall = os.open(f"/proc/{pid}/task/{pid}/syscall", os.O_RDONLY)
            self.mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY)

    def state(self) -> int:
        if self.syscall is None or FUTEX is None:
            return UNKNOWN
        try:
            fields = os.pread(self.syscall, 300, 0).split()
        except OSError:
            return UNKNOWN
        if not fields or fields[0] == b"running" or fields[0] == b"-1":
            return UNKNOWN
        if int(fields[0]) != FUTEX:
            return OTHER_WAIT
        operation, deadline_at = int(fields[2], 16), int(fields[4], 16)
        if not deadline_at or self.mem is None:
            return OTHER_WAIT
        try:
            seconds, nanoseconds = struct.unpack("qq", os.pread(self.mem, 16, deadline_at))
        except (OSError, struct.error):
            return UNKNOWN
        clock = time.CLOCK_REALTIME if operation & FUTEX_CLOCK_REALTIME else time.CLOCK_MONOTONIC
        if operation & 0x7F == FUTEX_WAIT:
            remaining = seconds + nanoseconds / 1e9  # FUTEX_WAIT takes a relative timeout
        else:
            remaining = seconds + nanoseconds / 1e9 - time.clock_gettime(clock)
        return GIL_WAIT if remaining <= GIL_WAIT_LONGEST else OTHER_WAIT

    def close(self) -> None:
        for fd in (self.syscall, self.mem):
            if fd is not None:
                os.close(fd)


FUTEX_WAIT = 0
FUTEX_CLOCK_REALTIME = 256


class OtherThreads:
    """Running figures of a process's threads other than its main one (and the harness's watchdog).

    `cpu` and `runq`: totals of CPU time and run-queue wait; a thread that has ended keeps its
    last figures, so they only ever grow. `load`: between two reads, the largest run-queue wait of
    any one thread (capped by the time between the reads), added up. When the loop thread waits on
    one of its threads (an executor starting a worker, a result being handed over) while that
    thread waits for a CPU, the wait is the machine's load, not a blocking call.
    """

    def __init__(self, pid: int, fixture: Fixture) -> None:
        self.pid = pid
        self.fixture = fixture
        self.handles: dict[str, int] = {}
        self.last: dict[str, tuple[int, int]] = {}
        self.cpu = 0
        self.runq = 0
        self.load = 0
        self.read_at: float | None = None
        self.watchdog_checked = False
        self.skipped: set[str] = set()

    def read(self) -> None:
        try:
            names = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return
        if self.fixture.watchdog_tid is not None and not self.watchdog_checked:
            # The hello naming the watchdog may have come after the first reads.
            self.watchdog_checked = True
            for name in [n for n in self.handles if self.is_watchdog(n)]:
                os.close(self.handles.pop(name))
                self.skipped.add(name)
        for name in names:
            if name != str(self.pid) and name not in self.handles and name not in self.skipped:
                if self.is_watchdog(name):
                    self.skipped.add(name)
                    continue
                try:
                    self.handles[name] = os.open(f"/proc/{self.pid}/task/{name}/schedstat", os.O_RDONLY)
                except OSError:
                    continue
        now = time.monotonic()
        largest = 0
        for name, fd in list(self.handles.items()):
            try:
                fields = os.pread(fd, 200, 0).split()
                figures = (int(fields[0]), int(fields[1]))
            except (OSError, ValueError, IndexError):
                os.close(fd)
                del self.handles[name]
                continue
            before = self.last.get(name, (0, 0))
            largest = max(largest, figures[1] - before[1])
            self.last[name] = figures
        if self.read_at is not None:
            self.load += min(largest, int((now - self.read_at) * 1e9))
        self.read_at = now
        self.cpu = sum(v[0] for v in self.last.values())
        self.runq = sum(v[1] for v in self.last.values())

    def is_watchdog(self, name: str) -> bool:
        """Whether host thread `name` is the harness's watchdog (named in its pid namespace's numbering)."""
        wanted = self.fixture.watchdog_tid
        if wanted is None:
            return False
        try:
            with open(f"/proc/{self.pid}/task/{name}/status") as handle:
                for line in handle:
                    if line.startswith("NSpid:"):
                        return line.split()[-1] == str(wanted)
        except OSError:
            return False
        return False

    def close(self) -> None:
        for fd in self.handles.values():
            os.close(fd)
        self.handles.clear()


SCHED_PERIOD = 0.005
OTHERS_EVERY = 4  # the other threads are read every 20 ms: they only excuse waits, never count against
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; the socket module leaves it out


def find_socket_owner(peer_port: int, local_port: int) -> int | None:
    """The pid of the oldest process holding the TCP socket bound to `peer_port` and connected to `local_port`.

    /proc/net/tcp is this network namespace's table (the fixture runs in the sandbox's namespace);
    /proc/<pid>/fd is read in the host's pid namespace, where the sandboxed process is visible.
    """
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == peer_port and int(remote.rsplit(":", 1)[1], 16) == local_port:
                inode = fields[9]
                break
        if inode:
            break
    if not inode:
        return None
    target = f"socket:[{inode}]"
    owners = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                if os.readlink(fd.path) == target:
                    with open(f"/proc/{entry.name}/stat") as handle:
                        start = int(handle.read().rsplit(")", 1)[1].split()[19])
                    owners.append((start, int(entry.name)))
                    break
        except OSError:
            continue
    return min(owners)[1] if owners else None


async def main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    fixture = Fixture(list(config["tokens"]), float(config["delay"]), random.SystemRandom())
    http = await asyncio.start_server(fixture.serve_http, "127.0.0.1", 0, limit=MAX_HEADER_BYTES, backlog=128)
    control = await asyncio.start_server(fixture.serve_control, "127.0.0.1", 0, limit=MAX_CONTROL_LINE)
    beats = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    beats.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    beats.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    beats.bind(("127.0.0.1", 0))
    threading.Thread(target=fixture.receive_beats, args=(beats,), daemon=True).start()
    ports = {
        "http_port": http.sockets[0].getsockname()[1],
        "control_port": control.sockets[0].getsockname()[1],
        "beat_port": beats.getsockname()[1],
    }
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    await stdin.read()  # until the grader closes our stdin: the run is over
    # Let lines already in the socket buffers be stamped before reporting.
    await asyncio.sleep(0.05)
    sys.stdout.write(json.dumps(fixture.record.report()) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
