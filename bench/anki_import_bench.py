"""Importing a 10,000-note Anki package: wall time, time per 1,000 notes, peak memory; then a re-import.

    .venv/bin/python bench/anki_import_bench.py [--notes N] [--no-schedule] [--database-url URL] [--profile]

Builds (with Anki's own library, through tests/anki/builders.py) a package of N notes (default
10,000): Basic, Basic (and reversed card) and Cloze notes with 2 or 3 deletions, HTML with
`<pre><code>`, inline styles and entities, hierarchical and non-ASCII tags, non-ASCII text, in a few
nested decks; by default a share of the cards is scheduled (review, learning and relearning cards)
with a few revlog rows each, so the `--user` path is measured too (`--no-schedule`: none, and the
import runs without a user). The package is cached in the temp directory, keyed by its parameters
(`--rebuild` builds it again); its build time is printed apart and is not part of any figure.

Then, into a fresh database (SQLite: a migrated temp file, the default; PostgreSQL when
`--database-url` or DATABASE_URL names one: the database `studyapp_bench_anki` on that server,
dropped and created again, so nothing else is touched), each step in a child process of its own:
migrate and create the learner; import (`cards.anki.importer.import_package(..., user=...)`); import
the same package again (the idempotent path: updates in place, no duplicates). For each import it
prints the wall time, the time per 1,000 notes, the child's RSS before the import (Django set up,
the learner read) and its peak RSS (VmHWM, which counts from the child's exec; ru_maxrss would
count the parent's pages at the fork), and where the time went (read, plan, write the cards, write
the schedule and log). Card, state and log counts must be equal after both runs.
Targets (the issue): at most 60 s and at most 300 MB (10^6 bytes) peak RSS; exit status 1 if one is
missed or a check fails. `--profile` then imports twice more under cProfile (not judged against the
targets), into another fresh database, and prints the top 25 functions by cumulative time (and the top
15 by own time) of that first import and of that re-import.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB_NAME = "studyapp_bench_anki"
DECK_SLUG = "anki-bench"
USERNAME = "anki-bench"
TARGET_SECONDS = 60.0
TARGET_BYTES = 300 * 10**6
BUILD_VERSION = 1  # change when the generated content changes: the cache key includes it
DAY_MS = 86_400_000


# --- the package -------------------------------------------------------------------------------------

TAGS = [
    "python::asyncio::event_loop", "python::asyncio::tasks", "python::threading", "python::gil",
    "python::multiprocessing", "backend::http::requests", "backend::http::httpx", "backend::databases::postgres",
    "backend::databases::sqlite", "backend::caching::redis", "os::processes", "os::threads", "os::syscalls",
    "cpu-bound", "io-bound", "Concurrency", "Performance::Latency", "Performance::Throughput", "leech",
    "Café::Größe", "Прогон::Сеть", "日本語::文法", "ñandú", "exam::2025::midterm", "exam::2025::final",
]  # fmt: skip
DECKS = [
    "Programming::Backend",
    "Programming::Backend::Async",
    "Programming::Backend::Databases",
    "Programmation::Réseau",
]
SUBJECTS = [
    ("event loop", "boucle d’événements", "runs one callback at a time on a single thread"),
    ("requests.get()", "appel bloquant", "blocks the thread until the response arrives"),
    ("asyncio.to_thread()", "fil d’exécution", "runs a blocking call in the default executor"),
    ("GIL", "verrou global", "lets one thread run Python bytecode at a time"),
    ("ProcessPoolExecutor", "processus", "runs CPU-bound work in other processes"),
    ("select()/epoll", "multiplexage", "waits on many sockets at once"),
    ("connection pool", "пул соединений", "reuses connections instead of opening one per request"),
    ("await", "待機", "suspends the coroutine and gives control back to the loop"),
    ("time.sleep()", "スリープ", "blocks the event loop; asyncio.sleep() does not"),
    ("Semaphore", "sémaphore", "bounds how many tasks run a section at once"),
]
CODE = [
    "import asyncio\n\nasync def main():\n    await asyncio.gather(*(fetch(u) for u in urls))\n\nasyncio.run(main())",
    "async def get_data(url):\n    async with httpx.AsyncClient() as client:\n"
    "        r = await client.get(url)\n    return r.json()  # « données »",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n"
    "with ProcessPoolExecutor() as pool:\n    print(list(pool.map(fib, range(30))))",
    'for i in range(3):\n    if i < 2 and i > 0:\n        print(f"{i} -> {i ** 2}")  # x < y && y > z',
    "SELECT id, due FROM cards\nWHERE due <= current_date\nORDER BY due LIMIT 100;  -- Größe ≤ 100",
]


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_block(rng: random.Random) -> str:
    language = rng.choice(("python", "sql", ""))
    attribute = f' class="language-{language}"' if language else ""
    return f"<pre><code{attribute}>{html_escape(rng.choice(CODE))}</code></pre>"


def basic_fields(rng: random.Random, i: int) -> list[str]:
    subject, foreign, fact = rng.choice(SUBJECTS)
    front = rng.choice(
        (
            f"What does <code>{html_escape(subject)}</code> do? <i>(#{i})</i>",
            f"Qu’est-ce que « {foreign} » ?&nbsp;— n° {i}",
            f"<div><b>{subject}</b>: why does it matter for I/O-bound code? 🐍 {i}</div>",
            f"Что делает {subject}? ({i})",
        )
    )
    back = f'<div style="color: #333">{subject} {fact}.</div>'
    if rng.random() < 0.5:
        back += code_block(rng)
    if rng.random() < 0.3:
        back += "<ul><li>Ça dépend&nbsp;: I/O</li><li>CPU → processes</li><li>日本語のメモ</li></ul>"
    if rng.random() < 0.2:
        back += '<br><a href="https://docs.python.org/3/library/asyncio.html" target="_blank">docs</a>'
    if rng.random() < 0.1:
        back += '<span onclick="alert(1)">&lt;script&gt;</span><script>alert("x")</script>'
    return [front, back]


def cloze_fields(rng: random.Random, i: int) -> list[str]:
    subject, foreign, fact = rng.choice(SUBJECTS)
    deletions = rng.choice((2, 2, 3))
    parts = [
        f"The {{{{c1::{html_escape(subject)}}}}} {fact}",
        f"— in French «&nbsp;{{{{c2::{foreign}}}}}&nbsp;»",
    ]
    if deletions == 3:
        parts.append(f"and it is <b>{{{{c3::not free::cost?}}}}</b> (note {i})")
    else:
        parts.append(f"(note {i}, 第{i % 7}章)")
    text = "<div>" + " ".join(parts) + ".</div>"
    extra = code_block(rng) if rng.random() < 0.6 else f"<i>See also</i> {subject}."
    return [text, extra]


class Scheduler:
    """Makes a share of the cards review (55%), learning (5%) or relearning (3%) cards with a revlog.

    Revlog ids are milliseconds, one per row and unique: a row's day (counted back from today) plus
    12 hours ago plus a counter that stays below 12 hours, so none is in the future.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.start_ms = int(time.time() * 1000) - DAY_MS // 2
        self.counter = 0

    def __call__(self, col, card) -> int:
        """Schedule `card` (or leave it new); return the number of revlog rows added."""
        from tests.anki.builders import add_revlog

        rng = self.rng
        roll = rng.random()
        if roll >= 0.63:
            return 0
        # (days after the previous row, ease, ivl, lastIvl, factor, revlog type); learning intervals in -seconds
        factor, ivl = 2500, 1
        if roll < 0.05:  # learning: one or two learning steps, the last one today
            history = [(0, 1, -60, -60, 0, 0)] + [(0, 3, -600, -60, 0, 0)] * rng.randint(0, 1)
            card.type, card.queue, card.ivl, card.factor = 1, 1, 0, 0
            card.due = self.start_ms // 1000 + DAY_MS // 1000
        else:
            history = [(0, 3, 1, -600, factor, 0)]  # learned
            for _ in range(rng.randint(1, 5)):
                ease = rng.choices((1, 2, 3, 4), weights=(10, 15, 60, 15))[0]
                if ease == 1:  # a lapse, then a relearning step
                    factor = max(1300, factor - 200)
                    history.append((ivl, 1, -600, ivl, factor, 1))
                    ivl = max(1, ivl // 2)
                    history.append((0, 3, ivl, -600, factor, 2))
                else:
                    factor = max(1300, factor + {2: -150, 3: 0, 4: 150}[ease])
                    new_ivl = max(ivl + 1, round(ivl * factor / 1000 * (1.2 if ease == 2 else 1.0)))
                    history.append((ivl, ease, new_ivl, ivl, factor, 1))
                    ivl = new_ivl
            if roll < 0.08:  # relearning: the last answer was Again
                factor = max(1300, factor - 200)
                history.append((ivl, 1, -600, ivl, factor, 1))
                ivl = max(1, ivl // 2)
                card.type, card.queue = 3, 1
                card.due = self.start_ms // 1000 + DAY_MS // 1000
                last_day = 0
            else:
                due_in = rng.randint(-10, ivl)
                card.type = card.queue = 2
                card.due = col.sched.today + due_in
                last_day = min(0, due_in - ivl)  # the last answer began the current interval
            card.ivl, card.factor = ivl, factor
            if rng.random() < 0.03:  # a manual reschedule (not an answer: the importer leaves it out)
                history.append((0, 0, ivl, ivl, factor, 4))
        if card.type != 2:
            last_day = 0
        days, day = [], 0
        for delay, *_ in history:
            day += max(delay, 0)
            days.append(day)
        revlog = []
        for day, (_, ease, row_ivl, last_ivl, row_factor, kind) in zip(days, history, strict=True):
            self.counter += 1
            revlog_id = self.start_ms + (day - days[-1] + last_day) * DAY_MS + self.counter
            revlog.append(
                (revlog_id, ease, row_ivl, last_ivl, row_factor, rng.randint(1_500, 40_000) if ease else 0, kind)
            )
        col.update_card(card)
        add_revlog(col, card.id, revlog)
        return len(revlog)


@dataclasses.dataclass
class PackageInfo:
    path: str
    notes: int
    by_type: dict[str, int]
    cards: int
    scheduled_cards: int
    revlog_rows: int
    build_seconds: float
    size_bytes: int


def package_path(cache_dir: Path, notes: int, schedule: bool, seed: int) -> Path:
    return cache_dir / f"anki-bench-n{notes}-sched{int(schedule)}-seed{seed}-v{BUILD_VERSION}.apkg"


def build_package(path: Path, notes: int, schedule: bool, seed: int) -> PackageInfo:
    """Build the package at `path` with Anki's library (tests/anki/builders.py); a JSON sidecar says what it holds."""
    from tests.anki.builders import NoteSpec, build

    rng = random.Random(seed)
    scheduler = Scheduler(random.Random(seed + 1))
    tally = {"scheduled": 0, "revlog": 0, "cards": 0}
    by_type: dict[str, int] = {}

    def then(col, note) -> None:
        cards = note.cards()
        tally["cards"] += len(cards)
        if not schedule:
            return
        for card in cards:
            rows = scheduler(col, card)
            tally["scheduled"] += rows > 0
            tally["revlog"] += rows

    specs = []
    for i in range(notes):
        roll = rng.random()
        if roll < 0.45:
            notetype, fields = "Basic", basic_fields(rng, i)
        elif roll < 0.65:
            notetype, fields = "Basic (and reversed card)", basic_fields(rng, i)
        else:
            notetype, fields = "Cloze", cloze_fields(rng, i)
        by_type[notetype] = by_type.get(notetype, 0) + 1
        tags = rng.sample(TAGS, rng.randint(0, 4)) + [f"chapter::{i % 40:02d}"]
        specs.append(NoteSpec(notetype, fields, tags=tags, deck=rng.choice(DECKS), then=then))
    partial = path.with_name(path.name + ".partial")
    started = time.perf_counter()
    build(partial, specs)
    seconds = time.perf_counter() - started
    with zipfile.ZipFile(partial) as archive:
        assert "collection.anki21b" in archive.namelist(), archive.namelist()
    partial.replace(path)
    info = PackageInfo(
        str(path), notes, by_type, tally["cards"], tally["scheduled"], tally["revlog"], seconds, path.stat().st_size
    )
    path.with_suffix(".json").write_text(json.dumps(dataclasses.asdict(info)))
    return info


def cached_package(cache_dir: Path, notes: int, schedule: bool, seed: int, rebuild: bool) -> tuple[PackageInfo, bool]:
    path = package_path(cache_dir, notes, schedule, seed)
    sidecar = path.with_suffix(".json")
    if not rebuild and path.exists() and sidecar.exists():
        return PackageInfo(**json.loads(sidecar.read_text())), True
    cache_dir.mkdir(parents=True, exist_ok=True)
    return build_package(path, notes, schedule, seed), False


# --- the database --------------------------------------------------------------------------------


def bench_database_url(url: str) -> str:
    """The PostgreSQL URL with the bench's own database name (never the app's database)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{BENCH_DB_NAME}"))


def fresh_postgres(url: str) -> None:
    """Drop the bench's database (only that one) and create it again, empty."""
    import psycopg
    from psycopg import sql

    from bench.load import ensure_database

    parts = urllib.parse.urlsplit(url)
    assert parts.path.lstrip("/") == BENCH_DB_NAME, parts.path
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB_NAME)))
    ensure_database(url)


def redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urllib.parse.urlunsplit(parts)


# --- the child processes -------------------------------------------------------------------------


def proc_status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child_setup(result: dict) -> None:
    """Migrate the (fresh) database and create the learner."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from cards.accounts.models import Profile

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username=USERNAME)
    Profile.objects.create(user=user, timezone="Europe/Paris")
    result["seconds"] = time.perf_counter() - started


# The importer's steps, timed when they exist (others edit the importer: a step renamed is just not shown):
# (label, the functions import_package calls for it, the first that exists being wrapped). Nested steps
# (the log rows, inside the schedule) are shown apart and not added to the others.
PHASES = (
    ("read", ("_read", "read")),
    ("plan", ("_plan",)),
    ("images", ("_store_images",)),
    ("clean HTML", ("_cleaned",)),
    ("write cards", ("_write_cards",)),
    ("schedule", ("_write_schedule",)),
)
NESTED_PHASES = (("of which log rows", ("_write_logs",)),)


def timed_phases(module, phases: dict[str, float]) -> None:
    """Wrap the importer's steps (those that exist) to add each one's time to `phases`."""

    def wrap(label, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - started

        return timed

    for label, names in PHASES + NESTED_PHASES:
        name = next((name for name in names if callable(getattr(module, name, None))), None)
        if name is not None:
            setattr(module, name, wrap(label, getattr(module, name)))


def child_import(args: argparse.Namespace, result: dict) -> None:
    """One import of the package, timed; the counts after it; RSS before it and at its peak."""
    import gc

    from django.contrib.auth import get_user_model
    from django.db import connection

    from cards.anki import importer
    from cards.models import Card
    from cards.review.models import ReviewLog, ReviewState

    user = get_user_model().objects.select_related("profile").get(username=USERNAME) if args.with_user else None
    connection.ensure_connection()
    phases: dict[str, float] = {}
    if not args.profiled:
        timed_phases(importer, phases)
    gc.collect()
    result["rss_before_kb"] = proc_status_kb("VmRSS")
    result["hwm_before_kb"] = proc_status_kb("VmHWM")
    profiler = None
    if args.profiled:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = importer.import_package(Path(args.package), deck_slug=DECK_SLUG, user=user)
    result["seconds"] = time.perf_counter() - started
    result["hwm_after_kb"] = proc_status_kb("VmHWM")
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
        print(f"\n--- cProfile of the {args.profiled}: top 25 by cumulative time ---")
        stats.sort_stats("cumulative").print_stats(25)
        print(f"--- cProfile of the {args.profiled}: top 15 by own time ---")
        stats.sort_stats("tottime").print_stats(15)
    result["phases"] = phases
    result["report"] = dataclasses.asdict(report)
    cards = Card.objects.filter(deck__slug=DECK_SLUG)
    result["cards"] = cards.count()
    result["distinct_keys"] = cards.values("anki_guid", "anki_ord").distinct().count()
    result["card_tags"] = Card.tags.through.objects.filter(card__deck__slug=DECK_SLUG).count()
    result["states"] = ReviewState.objects.filter(user=user).count() if user else 0
    result["logs"] = ReviewLog.objects.filter(user=user).count() if user else 0
    result["vendor"] = connection.vendor


def child(args: argparse.Namespace) -> None:
    from bench.stats_bench import setup_django

    setup_django(args.db_url)
    result: dict = {}
    if args.child == "setup":
        child_setup(result)
    else:
        child_import(args, result)
    Path(args.result).write_text(json.dumps(result))


def run_child(role: str, db_url: str, workdir: Path, *extra: str) -> dict:
    """Run a child process (this file again, with --child); return what it wrote."""
    result_file = workdir / f"{role}-{time.monotonic_ns()}.json"
    command = [sys.executable, __file__, "--child", role, "--db-url", db_url, "--result", str(result_file), *extra]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise SystemExit(f"the {role} child failed")
    return json.loads(result_file.read_text())


# --- the parent ----------------------------------------------------------------------------------


def mb(kib: float) -> float:
    return kib * 1024 / 10**6


def describe_import(label: str, result: dict, notes: int) -> None:
    seconds = result["seconds"]
    report = result["report"]
    before, peak = result["rss_before_kb"], result["hwm_after_kb"]
    print(
        f"{label}: {seconds:.2f} s, {seconds / notes * 1000:.3f} s per 1,000 notes; RSS before the import "
        f"{mb(before):.1f} MB, peak {mb(peak):.1f} MB (the import's own share +{mb(peak - before):.1f} MB"
        + ("; the peak was reached before the import)" if peak <= result["hwm_before_kb"] else ")")
    )
    phases = result["phases"]
    if phases:
        parts = [f"{label} {phases[label]:.2f} s" for label, _ in PHASES if label in phases]
        rest = seconds - sum(phases[label] for label, _ in PHASES if label in phases)
        nested = [f"{label} {phases[label]:.2f} s" for label, _ in NESTED_PHASES if label in phases]
        print("    where: " + ", ".join(parts) + (f" ({', '.join(nested)})" if nested else "") + f", rest {rest:.2f} s")
    print(
        f"    deck {report['deck']}: {report['notes']:,} notes, {report['created']:,} cards created, "
        f"{report['updated']:,} updated, {report['unchanged']:,} unchanged; in the database: {result['cards']:,} "
        f"cards, {result['card_tags']:,} card tags, {result['states']:,} states, {result['logs']:,} log rows"
    )
    if result["states"] or result["logs"]:
        print(
            f"    schedule: {report['states_created']:,} states created, {report['states_updated']:,} updated, "
            f"{report['states_kept']:,} kept; log: {report['logs_created']:,} rows imported, "
            f"{report['logs_existing']:,} already there"
        )
    for warning in report["warnings"]:
        print(f"    warning: {warning}")


def check(condition: bool, what: str, failures: list[str]) -> None:
    if not condition:
        failures.append(what)
        print(f"CHECK FAILED: {what}")


def measure(args: argparse.Namespace, info: PackageInfo, db_url: str | None, workdir: Path) -> list[str]:
    """Fresh database, import, re-import; print the figures; return the failed checks and missed targets."""
    failures: list[str] = []

    def fresh(name: str) -> str:
        if db_url is None:
            url = f"sqlite:///{workdir / name}.sqlite3"
        else:
            url = db_url
            fresh_postgres(url)
        setup = run_child("setup", url, workdir)
        where = "SQLite, temp file" if db_url is None else f"PostgreSQL, {redacted(url)}, dropped and created again"
        print(f"database: {where}; migrated and the learner created in {setup['seconds']:.1f} s")
        return url

    user_flag = ("--with-user",) if args.schedule else ()
    url = fresh("bench")
    first = run_child("import", url, workdir, "--package", info.path, *user_flag)
    describe_import("first import", first, info.notes)
    again = run_child("import", url, workdir, "--package", info.path, *user_flag)
    describe_import("re-import   ", again, info.notes)

    check(first["cards"] == info.cards, f"cards after the import {first['cards']} != Anki's {info.cards}", failures)
    check(again["cards"] == first["cards"], f"cards after the re-import {again['cards']} != {first['cards']}", failures)
    check(again["distinct_keys"] == again["cards"], "duplicate (guid, ordinal) after the re-import", failures)
    check(first["report"]["created"] == info.cards, "the first import did not create every card", failures)
    check(again["report"]["created"] == 0, "the re-import created cards", failures)
    check(again["report"]["unchanged"] == info.cards, "the re-import changed cards (nothing changed)", failures)
    check(again["card_tags"] == first["card_tags"], "card tags differ after the re-import", failures)
    if args.schedule:
        check(first["states"] == info.scheduled_cards, f"states {first['states']} != {info.scheduled_cards}", failures)
        check(again["states"] == first["states"], "states differ after the re-import", failures)
        check(again["logs"] == first["logs"], "log rows differ after the re-import", failures)
        check(again["report"]["logs_created"] == 0, "the re-import added log rows", failures)
        check(again["report"]["states_created"] == 0, "the re-import created states", failures)
    print(
        f"counts equal after both runs: cards {first['cards']:,} / {again['cards']:,}, states {first['states']:,} / "
        f"{again['states']:,}, log rows {first['logs']:,} / {again['logs']:,}"
    )

    for label, result in (("import", first), ("re-import", again)):
        seconds, peak = result["seconds"], mb(result["hwm_after_kb"])
        time_ok, memory_ok = seconds <= TARGET_SECONDS, peak * 10**6 <= TARGET_BYTES
        print(
            f"target ({label}, {info.notes:,} notes, {result['vendor']}): time <= {TARGET_SECONDS:.0f} s: "
            f"{'met' if time_ok else 'NOT MET'} ({seconds:.2f} s); peak RSS <= {TARGET_BYTES // 10**6} MB: "
            f"{'met' if memory_ok else 'NOT MET'} ({peak:.1f} MB)"
        )
        if not time_ok:
            failures.append(f"{label}: {seconds:.1f} s > {TARGET_SECONDS:.0f} s")
        if not memory_ok:
            failures.append(f"{label}: peak {peak:.1f} MB > {TARGET_BYTES // 10**6} MB")
    if info.notes != 10_000:
        print(f"(the targets are for 10,000 notes; this run has {info.notes:,})")

    if args.profile:
        url = fresh("profile")
        for label in ("first import", "re-import"):
            run_child("import", url, workdir, "--package", info.path, "--profiled", label, *user_flag)
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000, help="notes in the package (default 10,000)")
    parser.add_argument(
        "--no-schedule",
        dest="schedule",
        action="store_false",
        help="no scheduling or revlog in the package, and import without a user",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help=f"a PostgreSQL server to use (its database {BENCH_DB_NAME}); default $DATABASE_URL, else SQLite",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if DATABASE_URL is set")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "studyapp-anki-bench")
    parser.add_argument("--rebuild", action="store_true", help="build the package again even if cached")
    parser.add_argument("--profile", action="store_true", help="then profile an import and a re-import (cProfile)")
    parser.add_argument("--child", choices=("setup", "import"), help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--package", help=argparse.SUPPRESS)
    parser.add_argument("--with-user", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profiled", help=argparse.SUPPRESS)  # in the child: profile this import (its label)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    db_url = None
    if args.database_url and not args.sqlite:
        if not urllib.parse.urlsplit(args.database_url).scheme.startswith("postgres"):
            print(f"ignoring DATABASE_URL {redacted(args.database_url)}: not PostgreSQL; using a temp SQLite file")
        else:
            db_url = bench_database_url(args.database_url)

    info, cached = cached_package(args.cache_dir, args.notes, args.schedule, args.seed, args.rebuild)
    kinds = ", ".join(f"{count:,} {name}" for name, count in sorted(info.by_type.items()))
    how = "cached" if cached else "built"
    print(
        f"package: {info.path} ({how}; built with Anki's library in {info.build_seconds:.1f} s, "
        f"not part of the figures)\n    {info.notes:,} notes ({kinds}), {info.cards:,} cards, "
        f"{info.scheduled_cards:,} of them scheduled, {info.revlog_rows:,} revlog rows, "
        f"{info.size_bytes / 10**6:.1f} MB"
    )
    with tempfile.TemporaryDirectory(prefix="anki-import-bench-") as tmp:
        failures = measure(args, info, db_url, Path(tmp))
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("all checks passed, targets met")


if __name__ == "__main__":
    main()
