"""Attacks on the host's resources: memory, CPU, wall time, output, recursion.

Each must end in a clear status measured from outside (cgroup counters, the worker's own clock,
the bytes it actually read), with the worker unharmed and nothing left running.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.sandbox_helpers import assert_tree_gone, run, token

pytestmark = pytest.mark.sandbox

MIB = 1 << 20


def test_memory_bomb_ends_in_memory_status() -> None:
    marker = token()
    result = run(
        """
        blocks = []
        while True:
            blocks.append(bytearray(4 << 20))
        """,
        marker=marker,
        memory_mb=64,
    )
    assert result.status == "memory" and result.limit_hit == "memory_mb"
    assert result.signal_name == "SIGKILL"
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes <= 64 * MIB
    assert_tree_gone(marker)


def test_memory_spread_over_forked_children_is_capped_as_a_whole() -> None:
    marker = token()
    result = run(
        """
        import os, time
        for _ in range(6):
            if os.fork() == 0:
                data = bytearray(20 << 20)
                time.sleep(30)
        time.sleep(30)
        """,
        marker=marker,
        memory_mb=64,
        wall_seconds=4,
    )
    # Six children of 20 MiB each cannot all live under 64 MiB: the cgroup's OOM killer steps in.
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes <= 64 * MIB
    assert result.status in ("memory", "timeout")
    assert_tree_gone(marker)


def test_busy_loop_ends_in_cpu_timeout() -> None:
    started = time.monotonic()
    result = run("while True: pass", cpu_seconds=1, wall_seconds=15)
    assert result.status == "timeout" and result.limit_hit == "cpu_seconds"
    assert result.cpu_seconds is not None and 1 <= result.cpu_seconds < 3
    assert time.monotonic() - started < 14


def test_cpu_spread_over_processes_is_counted_as_a_whole() -> None:
    marker = token()
    result = run(
        """
        import os
        for _ in range(3):
            if os.fork() == 0:
                break
        while True:
            pass
        """,
        marker=marker,
        cpu_seconds=1,
        wall_seconds=20,
    )
    assert result.status == "timeout" and result.limit_hit == "cpu_seconds"
    # Per-process RLIMIT_CPU alone would allow 4 x 1 s; the cgroup's total stops it near 1 s.
    assert result.cpu_seconds is not None and result.cpu_seconds < 2.5
    assert_tree_gone(marker)


def test_sleeping_forever_ends_in_wall_timeout() -> None:
    started = time.monotonic()
    result = run("import time; time.sleep(3600)", wall_seconds=1)
    elapsed = time.monotonic() - started
    assert result.status == "timeout" and result.limit_hit == "wall_seconds"
    assert 1 <= result.wall_seconds <= elapsed < 5


def test_the_caller_can_stop_a_run_and_nothing_is_left_running() -> None:
    # A grader that has seen enough ends the run through its stop descriptor: the tree (a forked child
    # included) dies at once, the status says "stopped", and the output so far is kept.
    marker = token()
    stop_r, stop_w = os.pipe()
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        os.write(stop_w, b"x")

    timer = threading.Timer(1.0, stop)
    timer.start()
    try:
        result = run(
            """
            import os, sys, time
            print("started", flush=True)
            if os.fork() == 0:
                time.sleep(3600)
            time.sleep(3600)
            """,
            marker=marker,
            wall_seconds=30,
            stop_fd=stop_r,
        )
        ended = time.monotonic()
    finally:
        timer.cancel()
        os.close(stop_r)
        os.close(stop_w)
    assert result.status == "stopped" and result.limit_hit is None and not result.ok
    assert result.stdout == "started\n"
    # It ran until the stop, not less, and ended soon after it (the tree killed, not left to its limits).
    assert stopped_at and stopped_at[0] <= ended < stopped_at[0] + 4
    assert_tree_gone(marker)


def test_stdout_flood_is_cut_at_the_cap() -> None:
    marker = token()
    result = run(
        "import sys\nwhile True: sys.stdout.write('y' * 100000)",
        marker=marker,
        output_bytes=64 * 1024,
    )
    assert result.status == "output_limit" and result.limit_hit == "output_bytes"
    assert len(result.stdout_bytes) == 64 * 1024 and result.output_truncated
    assert set(result.stdout) == {"y"}
    assert_tree_gone(marker)


def test_stderr_flood_from_many_processes_is_cut_at_the_cap() -> None:
    marker = token()
    result = run(
        """
        import os
        for _ in range(3):
            os.fork()
        while True:
            os.write(2, b"e" * 65536)
        """,
        marker=marker,
        output_bytes=100_000,
    )
    assert result.status == "output_limit"
    assert len(result.stdout_bytes) + len(result.stderr_bytes) == 100_000
    assert_tree_gone(marker)


def test_deep_recursion_ends_in_a_clear_status() -> None:
    default = run("def f(n): return f(n + 1)\nf(0)")
    assert default.status == "error" and default.exit_code == 1
    assert "RecursionError" in default.stderr
    # Without Python's guard the frames grow until a limit ends it: the memory cgroup (3.11 keeps
    # Python frames on the heap) or the C stack (SIGSEGV). Either way a clear status, not a hang.
    unlimited = run("import sys\nsys.setrecursionlimit(10**9)\ndef f(n): return f(n + 1) + 1\nf(0)", memory_mb=128)
    assert (unlimited.status, unlimited.signal_name) in (("memory", "SIGKILL"), ("error", "SIGSEGV"))


def test_worker_survives_a_row_of_attacks_and_still_runs_benign_code() -> None:
    for code in ("import os; os.abort()", "import ctypes; ctypes.string_at(0)", "raise SystemExit(7)"):
        assert run(code).status == "error"
    assert run("print('still fine')").stdout == "still fine\n"
