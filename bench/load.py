"""Load test: N simulated learners reviewing (and submitting code) against gunicorn, on loopback only.

    .venv/bin/python bench/load.py --database-url postgres://studyapp:studyapp@127.0.0.1:5432/studyapp_bench

What it does, bounded in requests and in time:

1. migrates the given database (created if missing, PostgreSQL only) and sets up `--learners`
   users named bench-N, each with `--cards` cards due today; old bench users are deleted first;
2. starts gunicorn (gunicorn.conf.py, `--web-workers` sync workers) on 127.0.0.1 and a free port;
3. phase "trivial": the learners' threads call /healthz?require=database as fast as they can;
   phase "signed-in": the same with each learner's session, on a view that loads the session and the
   user and does nothing else (bench/floor_settings.py): the most any signed-in page can do here;
4. phase "review": each learner answers cards as the browser does (`--flow htmx`: GET /review/ once,
   then POST /review/answer/ with HX-Request, whose answer is the next card; `--flow nojs`: GET
   /review/ -> POST /review/answer/ -> redirect, each step), CSRF token and all, re-sending
   `--duplicate-rate` of its answers with the same request id (a double click), and submits code
   to a challenge `--submissions` times (queued on Redis; no worker grades here);
5. stops gunicorn and checks the database: the review log must hold exactly one row per answer
   sent (same request ids, duplicates included once), and one submission per accepted submit.

It prints requests/s, p50/p95/p99 latency per phase and per request kind, errors (must be 0),
the CPU milliseconds a request cost the web workers, PostgreSQL and the client in each phase, the
review's and the signed-in no-op's throughput against the trivial view's, and a final JSON line;
it exits 1 on any error or mismatch.
Each phase stops at `--duration` seconds or `--max-requests` requests, whichever comes first.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import ipaddress
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FIELD = re.compile(r'<input type="hidden" name="(state|version|request_id)" value="([^"]*)"')


@dataclass
class Stats:
    """Latencies and outcomes, per request kind, shared by the threads of one phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.latencies[kind].append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")


@dataclass
class Budget:
    """Stops a phase at a deadline or after a number of requests, whichever comes first."""

    deadline: float
    remaining: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, count: int = 1) -> bool:
        with self.lock:
            if time.monotonic() >= self.deadline or self.remaining < count:
                return False
            self.remaining -= count
            return True


@dataclass
class Ledger:
    """What the learners sent: answers (request ids), duplicates, accepted submissions."""

    answers: set[str] = field(default_factory=set)
    duplicates: int = 0
    submissions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (seconds), or 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(stats: Stats, elapsed: float) -> dict:
    """Requests/s and latency percentiles (ms), overall and per kind."""
    everything = [value for values in stats.latencies.values() for value in values]

    def describe(values: list[float]) -> dict:
        return {
            "requests": len(values),
            "rps": round(len(values) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        }

    return {
        **describe(everything),
        "seconds": round(elapsed, 2),
        "errors": len(stats.errors),
        "kinds": {kind: describe(values) for kind, values in sorted(stats.latencies.items())},
    }


# --- set-up ---------------------------------------------------------------------------------------


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing a non-loopback address: {host} (this benchmark stays on this machine)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database if it does not exist (the role needs CREATEDB)."""
    parts = urllib.parse.urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of the server under test: development mode without DEBUG, quiet logs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STUDYAPP_")}
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        DEBUG="0",
        ALLOWED_HOSTS=HOST,
        LOG_LEVEL="WARNING",
        DB_CONN_MAX_AGE="60",
        GUNICORN_ACCESS_LOG="",
        # No recycling of workers mid-phase (a new worker's start-up is ~1 s of CPU): each phase measures
        # its own requests, not a restart that the request count of the phases before it set off.
        GUNICORN_MAX_REQUESTS="0",
        WEB_CONCURRENCY=str(args.web_workers),
        # The app's settings plus one signed-in no-op URL, the "signed-in" phase's (bench/floor_settings.py).
        DJANGO_SETTINGS_MODULE="bench.floor_settings",
    )
    return env


def set_up_data(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """Create the bench learners and their due cards; return their session cookies and a challenge slug."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cards.accounts.models import Profile
    from cards.challenges.models import Challenge
    from cards.models import Card, Deck
    from cards.review.models import ReviewState

    User = get_user_model()
    User.objects.filter(username__startswith="bench-").delete()
    Deck.objects.filter(slug="bench-deck").delete()
    deck = Deck.objects.create(slug="bench-deck", title="Bench deck")
    cards = Card.objects.bulk_create(
        Card(deck=deck, key=f"b{i}", question=f"Bench question {i}?", answer=f"Answer {i}.", position=i)
        for i in range(args.cards)
    )
    today = dt.datetime.now(dt.UTC).date()
    sessions = []
    for n in range(args.learners):
        user = User.objects.create_user(username=f"bench-{n}", password=None)
        Profile.objects.create(user=user, timezone="UTC")
        # Cards already learned, due today: reviews, not new cards (no daily new-card cap applies).
        ReviewState.objects.bulk_create(
            ReviewState(
                user=user,
                card=card,
                repetitions=2,
                interval=6,
                due_on=today,
                last_reviewed_on=today - dt.timedelta(days=6),
                introduced_on=today - dt.timedelta(days=7),
            )
            for card in cards
        )
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
    from django.core.management import call_command

    # The learners here review synthetic cards, not the seed deck, so the challenges' links to seed
    # cards stay unmade (load_challenges says so on stderr, which is not this bench's business).
    call_command("load_challenges", verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    challenge = Challenge.objects.filter(is_active=True).order_by("position", "id").first()
    return sessions, (challenge.slug if challenge else None)


def start_server(args: argparse.Namespace, port: int, log_path: Path) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "--config", str(REPO / "gunicorn.conf.py"), "--bind", f"{HOST}:{port}"]
    command += ["--workers", str(args.web_workers), "studyapp.wsgi"]
    log = log_path.open("w")
    server = subprocess.Popen(command, cwd=REPO, env=server_env(args), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz?require=database", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")


# --- the learners -----------------------------------------------------------------------------------


def timed(stats: Stats, kind: str, expect: tuple[int, ...], call, *args, **kwargs) -> httpx.Response | None:
    """Make one request, recording its latency and whether its status was the expected one."""
    started = time.perf_counter()
    try:
        response = call(*args, **kwargs)
    except httpx.HTTPError as error:
        stats.record(kind, time.perf_counter() - started, f"{type(error).__name__}: {error}")
        return None
    error = None if response.status_code in expect else f"HTTP {response.status_code}"
    stats.record(kind, time.perf_counter() - started, error)
    return response


def trivial_learner(base: str, stats: Stats, budget: Budget) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while budget.take():
            timed(stats, "healthz", (200,), client.get, "/healthz?require=database")


def signed_in_learner(base: str, session: str, stats: Stats, budget: Budget) -> None:
    with httpx.Client(base_url=base, timeout=30, cookies={"sessionid": session}) as client:
        while budget.take():
            page = timed(stats, "signed-in no-op", (200,), client.get, "/bench/signed-in/")
            if page is not None and page.status_code == 200 and not page.text.startswith("signed in as bench-"):
                stats.record("signed-in no-op", 0.0, "not signed in")


def review_learner(
    base: str,
    session: str,
    challenge: str | None,
    args: argparse.Namespace,
    stats: Stats,
    budget: Budget,
    ledger: Ledger,
    seed: int,
) -> None:
    rng = random.Random(seed)
    submissions_left = args.submissions if challenge else 0
    answered = 0
    htmx = args.flow == "htmx"
    # With htmx (the browser's way) an answer's response is the next card: one request a step, after
    # one load of the page. Without JavaScript, each step is the page and an answer that redirects.
    answer_kind, answer_status = ("answer (htmx)", 200) if htmx else ("answer", 302)
    headers = {"HX-Request": "true", "HX-Current-URL": f"{base}/review/"} if htmx else {}
    with httpx.Client(base_url=base, timeout=30, cookies={"sessionid": session}) as client:
        page = None
        while budget.take(1 if htmx and page is not None else 2):
            if page is None or not htmx:
                page = timed(stats, "review page", (200,), client.get, "/review/")
                if page is None or page.status_code != 200:
                    page = None
                    continue
                token_match = TOKEN.search(page.text)
            fields = dict(FIELD.findall(page.text))
            if token_match is None or not {"state", "version", "request_id"} <= fields.keys():
                stats.record("review page", 0.0, "no card to answer (raise --cards)")
                return
            data = {**fields, "quality": str(rng.choice([3, 4, 4, 5, 5])), "duration_ms": str(rng.randint(900, 9000))}
            data["csrfmiddlewaretoken"] = token_match.group(1)
            answer = timed(stats, answer_kind, (answer_status,), client.post, "/review/answer/", data=data,
                           headers=headers)  # fmt: skip
            if answer is not None and answer.status_code == answer_status:
                with ledger.lock:
                    ledger.answers.add(fields["request_id"])
                page = answer if htmx else page
            elif htmx:
                page = None  # load the page again
            if rng.random() < args.duplicate_rate and budget.take():
                # A double click: the same answer again must change nothing.
                timed(stats, "answer (duplicate)", (answer_status,), client.post, "/review/answer/", data=data,
                      headers=headers)  # fmt: skip
                with ledger.lock:
                    ledger.duplicates += 1
            answered += 1
            if submissions_left and answered % 10 == 1 and budget.take():
                submissions_left -= 1
                code = f"# bench submission {uuid.uuid4()}\nasync def get_data(url):\n    return {{}}\n"
                payload = {"code": code, "csrfmiddlewaretoken": token_match.group(1)}
                url = f"/challenges/{challenge}/submit/"
                submitted = timed(stats, "submit", (302,), client.post, url, data=payload)
                # Accepted: redirected to the new submission's page (a refusal redirects to the challenge).
                if submitted is not None and submitted.headers.get("location", "").startswith("/submissions/"):
                    with ledger.lock:
                        ledger.submissions += 1
                elif submitted is not None:
                    stats.record("submit", 0.0, f"refused: -> {submitted.headers.get('location')}")


def _proc_cpu(pid: int) -> tuple[int, str, float]:
    """(parent pid, command name, CPU seconds used so far) of a process, from /proc/<pid>/stat.

    With the CPU of its children that have ended (cutime, cstime): a gunicorn worker or a PostgreSQL
    backend that exits during a phase still counts, in its parent's figures.
    """
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return int(fields[1]), name, ticks / os.sysconf("SC_CLK_TCK")


def cpu_by_part(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the web server (gunicorn and its workers), PostgreSQL, and this client."""
    processes = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):  # gone meanwhile
                processes[int(entry)] = _proc_cpu(int(entry))
    parts = {"web": 0.0, "database": 0.0, "client": processes.get(os.getpid(), (0, "", 0.0))[2]}
    for pid, (parent, name, seconds) in processes.items():
        if pid == server_pid or parent == server_pid:
            parts["web"] += seconds
        elif name == "postgres":
            parts["database"] += seconds
    return parts


def run_phase(name: str, target, args: argparse.Namespace, arguments: list[tuple]) -> tuple[Stats, float]:
    stats = Stats()
    budget = Budget(deadline=time.monotonic() + args.duration, remaining=args.max_requests)
    threads = [threading.Thread(target=target, args=(*extra, stats, budget), daemon=True) for extra in arguments]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.duration + 60)
    return stats, time.perf_counter() - started


# --- checks afterwards ------------------------------------------------------------------------------


def verify(ledger: Ledger) -> dict:
    """Compare what the database holds with what was sent."""
    from django.db import connection

    from cards.challenges.models import Submission
    from cards.review.models import ReviewLog

    connection.close()  # a fresh connection: the set-up's may have been idle through the run
    logged = list(
        ReviewLog.objects.filter(user__username__startswith="bench-", source__in=["review", "redrill"]).values_list(
            "request_id", flat=True
        )
    )
    logged_ids = {str(value) for value in logged}
    submissions = Submission.objects.filter(user__username__startswith="bench-").count()
    return {
        "answers_sent": len(ledger.answers),
        "duplicates_sent": ledger.duplicates,
        "log_rows": len(logged),
        "log_rows_match": len(logged) == len(ledger.answers) and logged_ids == ledger.answers,
        "submissions_accepted": ledger.submissions,
        "submission_rows": submissions,
        "submissions_match": submissions == ledger.submissions,
    }


def drain_queue(redis_url: str) -> int:
    """Remove the bench's queued gradings from Redis (no worker runs here); return how many."""
    import redis

    client = redis.Redis.from_url(redis_url)
    queued = client.llen("sandbox")
    client.delete("sandbox")
    return queued


def print_phase(name: str, result: dict) -> None:
    print(f"\n{name}: {result['requests']} requests in {result['seconds']} s, {result['rps']} req/s, "
          f"errors {result['errors']}")  # fmt: skip
    print(f"  {'kind':<20} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, row in result["kinds"].items():
        print(f"  {kind:<20} {row['requests']:>8} {row['rps']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['p99_ms']:>8}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://studyapp:studyapp@127.0.0.1:5432/studyapp_bench"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--learners", type=int, default=8, help="concurrent simulated learners (threads)")
    parser.add_argument("--cards", type=int, default=400, help="cards due per learner")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase, at most")
    parser.add_argument("--max-requests", type=int, default=4000, help="requests per phase, at most")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--duplicate-rate", type=float, default=0.1, help="share of answers sent twice")
    parser.add_argument("--submissions", type=int, default=2, help="code submissions per learner")
    parser.add_argument(
        "--flow",
        choices=("htmx", "nojs"),
        default="htmx",
        help="a step as the browser takes it (htmx: one answer request returns the next card) or without "
        "JavaScript (the page, then an answer that redirects)",
    )
    args = parser.parse_args()
    check_loopback(args.database_url)
    check_loopback(args.redis_url)

    os.environ.update(server_env(args))
    sys.path.insert(0, str(REPO))
    ensure_database(args.database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=server_env(args),
                   check=True)  # fmt: skip
    sessions, challenge = set_up_data(args)
    port = free_port()
    base = f"http://{HOST}:{port}"
    log_path = REPO / "var" / "bench-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    scheme = urllib.parse.urlsplit(args.database_url).scheme
    print(f"gunicorn on {base} with {args.web_workers} workers; {args.learners} learners; database {scheme}; "
          f"challenge: {challenge or 'none (reviews only)'}")  # fmt: skip
    server = start_server(args, port, log_path)
    try:
        cpu_marks = [cpu_by_part(server.pid)]
        trivial_stats, trivial_elapsed = run_phase("trivial", trivial_learner, args, [(base,)] * args.learners)
        cpu_marks.append(cpu_by_part(server.pid))
        floor_arguments = [(base, session) for session in sessions]
        floor_stats, floor_elapsed = run_phase("signed-in", signed_in_learner, args, floor_arguments)
        cpu_marks.append(cpu_by_part(server.pid))
        ledger = Ledger()
        review_args = [(base, session, challenge, args) for session in sessions]
        review_stats, review_elapsed = run_phase(
            "review",
            lambda base, session, challenge, args, stats, budget: review_learner(
                base, session, challenge, args, stats, budget, ledger, seed=hash(session) & 0xFFFF
            ),
            args,
            review_args,
        )
        cpu_marks.append(cpu_by_part(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    trivial = summary(trivial_stats, trivial_elapsed)
    floor = summary(floor_stats, floor_elapsed)
    review = summary(review_stats, review_elapsed)
    checks = verify(ledger)
    checks["queued_gradings_drained"] = drain_queue(args.redis_url)
    answers_per_second = round(checks["answers_sent"] / review_elapsed, 1) if review_elapsed else 0.0
    ratio = round(trivial["rps"] / review["rps"], 2) if review["rps"] else None
    # The target, as a fraction of the trivial view's throughput: review requests, and review
    # steps (answers recorded: one request each with htmx; the page and the answer without JavaScript).
    review_share = round(review["rps"] / trivial["rps"], 2) if trivial["rps"] else None
    steps_share = round(answers_per_second / trivial["rps"], 2) if trivial["rps"] else None
    # The ceiling of any signed-in page here: a view that loads the session and the user and does nothing.
    floor_share = round(floor["rps"] / trivial["rps"], 2) if trivial["rps"] else None

    print_phase("trivial (/healthz)", trivial)
    print_phase("signed-in no-op (session and user, nothing else)", floor)
    print_phase(f"review, {args.flow} flow (page, answers, duplicates, submits)", review)
    # Where each request's time went: CPU ms per request of the web workers, PostgreSQL and the client
    # (all on the same cores, so the slowest part is not alone in setting the pace).
    cpu = {}
    phases = (("trivial", trivial), ("signed-in", floor), ("review", review))
    for (phase, result), start, end in zip(phases, cpu_marks, cpu_marks[1:], strict=False):
        cpu[phase] = {part: round((end[part] - start[part]) * 1000 / max(1, result["requests"]), 2) for part in end}
        print(f"CPU ms per request, {phase}: " + ", ".join(f"{part} {ms}" for part, ms in cpu[phase].items()))
    load = os.getloadavg()[0]
    print(f"\nanswers recorded: {answers_per_second}/s; trivial/review request throughput ratio: {ratio}")
    print(f"review/trivial throughput: requests {review_share}, steps (answers) {steps_share}; "
          f"signed-in no-op/trivial: {floor_share}")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (the client threads share the cores)")
    verdict = "OK" if checks["log_rows_match"] else "MISMATCH"
    print(f"review log: {checks['log_rows']} rows for {checks['answers_sent']} answers sent "
          f"(+{checks['duplicates_sent']} duplicates) -> {verdict}")  # fmt: skip
    print(f"submissions: {checks['submission_rows']} rows for {checks['submissions_accepted']} accepted -> "
          f"{'OK' if checks['submissions_match'] else 'MISMATCH'}")  # fmt: skip
    for error in (trivial_stats.errors + floor_stats.errors + review_stats.errors)[:10]:
        print(f"  error: {error}")
    result = {"trivial": trivial, "signed_in": floor, "review": review, "cpu_ms_per_request": cpu, "ratio": ratio,
              "review_share": review_share, "steps_share": steps_share, "floor_share": floor_share,
              "answers_per_s": answers_per_second,
              "load_average": round(load, 1), **checks}  # fmt: skip
    print("JSON " + json.dumps(result))
    ok = (
        trivial["errors"] == 0
        and floor["errors"] == 0
        and review["errors"] == 0
        and checks["log_rows_match"]
        and checks["submissions_match"]
        and checks["answers_sent"] > 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
