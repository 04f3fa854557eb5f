"""What the sandbox costs: median wall time of a run, sandboxed vs the bare interpreter.

    .venv/bin/python bench/sandbox_bench.py [--runs 40]

Both sides run the same file with the same interpreter (the sandbox's venv python): bare as a plain
subprocess, sandboxed through cards.sandbox.run_python (bubblewrap, cgroups, private /tmp, uid switch,
waiting until the process tree is gone). Runs alternate so machine load hits both sides alike. Prints
per program the medians, the difference and the ratio. Target: the sandbox adds under 15 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards.sandbox import NetworkNamespace, SandboxLimits, run_python  # noqa: E402
from cards.sandbox.host import check_available  # noqa: E402

PROGRAMS = {'print("hi")': 'print("hi")\n', "import httpx": "import httpx\n"}


def bare(python: str, path: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the plain interpreter as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([python, "-B", "-s", path], check=True, stdout=subprocess.DEVNULL, env={})
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def sandboxed(source: str, limits: SandboxLimits, netns: NetworkNamespace | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of a sandboxed run; CPU is the run's cgroup (bubblewrap and the code)."""
    started = time.perf_counter()
    result = run_python({"main.py": source}, limits=limits, netns=netns)
    elapsed = time.perf_counter() - started
    if result.status != "ok":
        raise SystemExit(f"sandboxed run failed: {result.to_dict()}")
    return elapsed, result.cpu_seconds or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    options = parser.parse_args()
    host = check_available()
    limits = SandboxLimits()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, {options.runs} runs each, interpreter {host.python}")
    print("median wall ms (and CPU ms of the processes run: the bare interpreter / bubblewrap plus the code)")
    columns = ("bare", "sandbox", "added", "ratio", "in netns", "CPU bare", "CPU box")
    print(f"{'program':<14}" + "".join(f"{c:>10}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp, NetworkNamespace() as ns:
        for label, source in PROGRAMS.items():
            path = os.path.join(tmp, "main.py")
            Path(path).write_text(source)
            bare(host.python, path), sandboxed(source, limits)  # warm caches
            bare_times, box_times, ns_times = [], [], []
            for _ in range(options.runs):
                bare_times.append(bare(host.python, path))
                box_times.append(sandboxed(source, limits))
                ns_times.append(sandboxed(source, limits, ns))
            b, s, n = (statistics.median(t[0] for t in x) * 1000 for x in (bare_times, box_times, ns_times))
            cb, cs = (statistics.median(t[1] for t in x) * 1000 for x in (bare_times, box_times))
            print(f"{label:<14}" + "".join(f"{v:>10.1f}" for v in (b, s, s - b)) + f"{s / b:>10.2f}", end="")
            print("".join(f"{v:>10.1f}" for v in (n, cb, cs)))
    # Once per grading, not per run: the network namespace a grader's fixture server lives in.
    netns_times = []
    for _ in range(options.runs):
        started = time.perf_counter()
        with NetworkNamespace():
            pass
        netns_times.append(time.perf_counter() - started)
    print(f"a fixture's network namespace (create, lo up, delete): {statistics.median(netns_times) * 1000:.1f} ms")
    # A Celery worker with Django loaded is far bigger than this script: the sandbox starts with vfork,
    # so its cost must not grow with the worker's memory (a fork with preexec_fn copies page tables).
    ballast = bytearray(256 * 1024 * 1024)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    source = PROGRAMS['print("hi")']
    big = [sandboxed(source, limits)[0] for _ in range(options.runs)]
    print(f'print("hi") sandboxed from a process holding 256 MiB more: {statistics.median(big) * 1000:.1f} ms')
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
