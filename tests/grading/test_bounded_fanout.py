"""bounded_fanout: 1,000 requests, at most `limit` in flight, counted by the fixture server itself."""

from __future__ import annotations

import pytest

from cards.grading import GradingError
from cards.grading.graders import grade
from tests.grading_helpers import challenge, explain, grade_all

pytestmark = pytest.mark.sandbox

CH = challenge("bounded-fanout")
# Extra answers run against fewer URLs to keep the suite quick; the challenge's own files get the real 1,000.
SMALL = {**CH.params, "n": 200}

PASSING = {
    "worker_tasks_and_queue": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    results = [None] * len(urls)
    queue = asyncio.Queue()
    for item in enumerate(urls):
        queue.put_nowait(item)

    async def worker():
        while not queue.empty():
            i, url = queue.get_nowait()
            results[i] = await get_json(url)

    await asyncio.gather(*(worker() for _ in range(limit)))
    return results
""",
    "taskgroup_and_semaphore": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit)
    async def one(url):
        async with sem:
            return await get_json(url)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one(u)) for u in urls]
    return [t.result() for t in tasks]
""",
    "httpx_with_semaphore": """
import asyncio
import httpx

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=limit), timeout=httpx.Timeout(30, pool=None)) as c:
        async def one(url):
            async with sem:
                r = await c.get(url)
            return r.json()
        return await asyncio.gather(*(one(u) for u in urls))
""",
    "chunks_of_limit": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    out = []
    for start in range(0, len(urls), limit):
        out += await asyncio.gather(*(get_json(u) for u in urls[start:start + limit]))
    return out
""",
}

FAILING = {
    "one_at_a_time": """
from fetch import get_json

async def fetch_all(urls, limit):
    return [await get_json(url) for url in urls]
""",
    "semaphore_twice_the_limit": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit * 2)
    async def one(url):
        async with sem:
            return await get_json(url)
    return await asyncio.gather(*(one(u) for u in urls))
""",
    "semaphore_one_over_the_limit": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit + 1)
    async def one(url):
        async with sem:
            return await get_json(url)
    return await asyncio.gather(*(one(u) for u in urls))
""",
    "results_out_of_order": """
import asyncio
from fetch import get_json

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit)
    results = []
    async def one(url):
        async with sem:
            results.append(await get_json(url))
    await asyncio.gather(*(one(u) for u in urls))
    return results[::-1]
""",
    "text_not_json": """
import asyncio
import httpx

async def fetch_all(urls, limit):
    sem = asyncio.Semaphore(limit)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, pool=None)) as c:
        async def one(url):
            async with sem:
                return (await c.get(url)).text
        return await asyncio.gather(*(one(u) for u in urls))
""",
    "raises": """
async def fetch_all(urls, limit):
    raise RuntimeError("no network today")
""",
}


@pytest.fixture(scope="module")
def verdicts():
    own = grade_all(CH.kind, {"reference": CH.reference, "starter": CH.starter}, CH.params, workers=2)
    return {**own, **grade_all(CH.kind, {**PASSING, **FAILING}, SMALL)}


@pytest.mark.parametrize("name", ["reference", *PASSING])
def test_bounded_concurrent_fetching_passes(verdicts, name):
    verdict = verdicts[name]
    assert verdict.passed, explain(verdict)
    results, in_flight = verdict.checks
    assert results.measured["right"] == results.measured["urls"]
    assert in_flight.measured["at_least"] <= in_flight.measured["max_in_flight"] <= in_flight.measured["limit"]


@pytest.mark.parametrize("name", ["starter", *FAILING])
def test_unbounded_serial_or_wrong_answers_fail(verdicts, name):
    verdict = verdicts[name]
    assert not verdict.passed, explain(verdict)
    assert verdict.quality < 3


def test_reference_fetches_all_thousand(verdicts):
    results, in_flight = verdicts["reference"].checks
    assert results.measured == {"right": 1000, "urls": 1000, "returned": 1000, "never_requested": 0}
    assert in_flight.measured["max_in_flight"] == 20


def test_starter_feedback_names_the_peak_the_server_counted(verdicts):
    verdict = verdicts["starter"]
    results, in_flight = verdict.checks
    assert results.passed and not in_flight.passed
    peak = in_flight.measured["max_in_flight"]
    assert peak > 20
    assert f"The server saw {peak} requests in flight at once" in verdict.feedback
    assert "Semaphore(20)" in verdict.feedback


def test_one_over_the_limit_is_called_a_loose_bound_not_everything_at_once(verdicts):
    verdict = verdicts["semaphore_one_over_the_limit"]
    assert verdict.checks[1].measured["max_in_flight"] == 21
    assert "The server saw 21 requests in flight at once, 1 more than the limit of 20" in verdict.feedback
    assert "the bound is too loose" in verdict.feedback
    assert "started together" not in verdict.feedback and "at once)" not in verdict.feedback


def test_serial_fetching_is_told_it_never_overlapped(verdicts):
    verdict = verdicts["one_at_a_time"]
    assert verdict.checks[1].measured["max_in_flight"] == 1
    assert "one after another" in verdict.feedback


def test_wrong_results_are_counted_by_token(verdicts):
    assert verdicts["results_out_of_order"].checks[0].measured["right"] < 200
    assert verdicts["text_not_json"].checks[0].measured["right"] == 0
    assert "RuntimeError: no network today" in verdicts["raises"].feedback


def test_bad_params_are_refused_clearly():
    with pytest.raises(GradingError, match="limit 2..500"):
        grade("bounded_fanout", CH.reference, {"limit": 1})
