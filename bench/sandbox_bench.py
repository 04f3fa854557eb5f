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


def bare(python: str, path: str) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-B", "-s", path], check=True, stdout=subprocess.DEVNULL, env={})
    return time.perf_counter() - started


def sandboxed(source: str, limits: SandboxLimits, netns: NetworkNamespace | None = None) -> float:
    started = time.perf_counter()
    result = run_python({"main.py": source}, limits=limits, netns=netns)
    elapsed = time.perf_counter() - started
    if result.status != "ok":
        raise SystemExit(f"sandboxed run failed: {result.to_dict()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    options = parser.parse_args()
    host = check_available()
    limits = SandboxLimits()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, {options.runs} runs each, interpreter {host.python}")
    print(f"{'program':<16}{'bare ms':>10}{'sandbox ms':>12}{'added ms':>10}{'ratio':>8}{'in netns ms':>13}")
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
            b, s, n = (statistics.median(x) * 1000 for x in (bare_times, box_times, ns_times))
            print(f"{label:<16}{b:>10.1f}{s:>12.1f}{s - b:>10.1f}{s / b:>8.2f}{n:>13.1f}")


if __name__ == "__main__":
    main()
