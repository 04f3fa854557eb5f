"""Harness for the bounded_fanout grader (runs as main.py in the sandbox; standard library only).

argv: FD SPEC_JSON with {"base": url, "n": int, "limit": int, "timeout": s}.
Calls the learner's `fetch_all(urls, limit)` once and reports, per URL, the
token in the JSON it returned; the grader compares them with what the fixture
server (outside) sent.
"""

import asyncio
import json
import sys

from _events import describe, emit, load_solution

SPEC = json.loads(sys.argv[2])


def token_of(value):
    if isinstance(value, dict) and isinstance(value.get("token"), str):
        return value["token"]
    return f"<{type(value).__name__}>"


async def run(fetch_all):
    urls = [f"{SPEC['base']}/item/{i}" for i in range(SPEC["n"])]
    emit("begin", "learner")
    try:
        results = await asyncio.wait_for(fetch_all(urls, SPEC["limit"]), SPEC["timeout"])
    except TimeoutError:
        emit("error", f"fetch_all() had not returned after {SPEC['timeout']} s")
        return
    except Exception as exc:  # noqa: BLE001
        emit("error", f"fetch_all() raised {describe(exc)}")
        return
    finally:
        emit("end", "learner")
    if not isinstance(results, list | tuple):
        emit("error", f"fetch_all() returned a {type(results).__name__}, not a list")
        return
    emit("result", json.dumps([token_of(value) for value in results]))


def main():
    solution = load_solution()
    fetch_all = getattr(solution, "fetch_all", None)
    if not asyncio.iscoroutinefunction(fetch_all):
        emit("error", "your module must define `async def fetch_all(urls, limit)`")
        return
    asyncio.run(run(fetch_all))


main()
