"""The trusted fixture for the blocking-call challenge: a slow JSON server that keeps its own records.

Started by the grader inside the run's network namespace (outside the sandbox's
process tree), so it is the only thing the learner's code can reach. Standard
library only; run as a script:

    python fixture_server.py        (configuration as one JSON line on stdin)

Protocol with the grader, over stdin/stdout:

1. the grader writes one JSON line: {"tokens": [...], "delay": 0.25}
2. the server answers one JSON line: {"http_port": P}
3. the grader closes stdin when the run is over; the server prints one JSON
   line, its report, and exits.

What it records, on the host's monotonic clock (the grader's clock, never the learner's):
every HTTP request, with its token (the per-call secret in the URL), its
connection, when it arrived, when its response went out, and the exact body it
sent, fresh and random for every request. The grader ties each returned result
to the request whose body it carries, and measures overlap among those requests
only: a request whose body no result carries (a throw-away GET) counts for nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import sys
import time
from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_BYTES = 16 * 1024
# A cap on what is kept, so a flood of requests from the learner's code cannot make the report huge.
MAX_REQUESTS = 2_000
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
    """Everything the fixture saw, stamped with the host's monotonic clock (the grader's too)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    dropped: int = 0

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "dropped": self.dropped,
            "ended": self.now(),
        }


class Fixture:
    """The HTTP server and its record."""

    def __init__(self, tokens: list[str], delay: float, rng: random.Random) -> None:
        self.tokens = set(tokens)
        self.delay = delay
        self.rng = rng
        self.record = Record()

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
            self.keep({"token": None, "target": target[:200], "status": 404, "arrived": arrived})
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
        self.keep(entry)
        self.enter()
        try:
            await asyncio.sleep(self.delay)
            await self.send(writer, version, 200, text.encode(), keep_alive, head_only=method == "HEAD")
            entry["released"] = rec.now()
        finally:
            self.leave()
        return keep_alive

    def keep(self, entry: dict[str, Any]) -> None:
        rec = self.record
        if len(rec.requests) < MAX_REQUESTS:
            rec.requests.append(entry)
        else:
            rec.dropped += 1

    def enter(self) -> None:
        rec = self.record
        rec.in_flight += 1
        rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)

    def leave(self) -> None:
        rec = self.record
        rec.in_flight -= 1

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


async def main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    config = json.loads(await stdin.readline())
    fixture = Fixture(list(config["tokens"]), float(config["delay"]), random.SystemRandom())
    http = await asyncio.start_server(fixture.serve_http, "127.0.0.1", 0, limit=MAX_HEADER_BYTES, backlog=128)
    ports = {
        "http_port": http.sockets[0].getsockname()[1],
    }
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    await stdin.read()  # until the grader closes our stdin: the run is over
    sys.stdout.write(json.dumps(fixture.record.report()) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
