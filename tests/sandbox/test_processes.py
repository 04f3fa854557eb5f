"""Attacks on processes and privileges, and code that tries to outlive its run.

Checked on the host: the process table (/proc), the sandboxed processes' credentials and
namespaces as the host sees them, and sentinel processes that must survive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cards.sandbox import cgroups
from cards.sandbox import host as sandbox_host
from cards.sandbox.cgroups import sweep_stale
from tests.sandbox_helpers import assert_tree_gone, held_run, pids_with, proc_status, python_pids, run, token

pytestmark = pytest.mark.sandbox


def _sentinel(marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker])


def test_kill_minus_one_and_killing_its_parents_hurt_nothing_outside() -> None:
    sentinel_marker = token()
    sentinel = _sentinel(sentinel_marker)
    marker = token()
    try:
        result = run(
            f"""
            import os, signal
            for pid in range(2, 40000):
                try:
                    os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None
                except OSError:
                    pass
            for target in (os.getppid(), 1, {sentinel.pid}, {os.getpid()}):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError as exc:
                    print(target, exc)
            os.kill(-1, signal.SIGKILL)
            """,
            marker=marker,
        )
        assert sentinel.poll() is None, "a host process was killed from inside the sandbox"
    finally:
        sentinel.kill()
        sentinel.wait()
    # kill(-1) took the code's own process tree down: a clear status, and nothing left behind.
    assert result.status in ("error", "ok")
    assert_tree_gone(marker)


def test_cannot_see_host_processes_or_their_command_lines() -> None:
    secret = token()
    sentinel = _sentinel(secret)
    try:
        result = run(
            """
            import os
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    print(pid, open(f"/proc/{pid}/cmdline", "rb").read())
            """
        )
    finally:
        sentinel.kill()
        sentinel.wait()
    assert result.status == "ok", result.stderr
    assert secret not in result.stdout
    assert len(result.stdout.splitlines()) <= 3  # bubblewrap's pid 1 and the code itself


def test_runs_as_an_unprivileged_uid_without_capabilities_in_its_own_namespaces() -> None:
    marker = token()
    layout = sandbox_host.layout()
    with held_run("wait_release()", marker) as (pids, _future):
        sandboxed = python_pids(pids)
        assert sandboxed, "the sandboxed process was not found on the host"
        status = proc_status(sandboxed[0])
        uids = {int(u) for u in status["Uid"].split()} | {int(g) for g in status["Gid"].split()}
        host_ns = {name: os.readlink(f"/proc/self/ns/{name}") for name in ("user", "mnt", "net", "pid", "ipc", "uts")}
        child_ns = {name: os.readlink(f"/proc/{sandboxed[0]}/ns/{name}") for name in host_ns}
        for pid in pids:  # bubblewrap too: nothing of the run runs as root
            assert proc_status(pid)["Uid"].split()[0] != "0"
    assert len(uids) == 1 and layout.uid_base <= uids.pop() < layout.uid_base + layout.uid_count
    for field in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(status[field], 16) == 0, field
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # filtered (cards/sandbox/seccomp.py)
    assert status["Groups"].strip() == ""
    assert all(child_ns[name] != host_ns[name] for name in host_ns), child_ns


def test_cannot_mount_or_create_namespaces() -> None:
    marker = token()
    code = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        for flag in (0x10000000, 0x00020000, 0x40000000, 0x20000000, 0x04000000):  # user, mnt, net, pid, uts
            print("unshare", hex(flag), libc.unshare(flag), ctypes.get_errno())
        print("mount", libc.mount(b"tmpfs", b"/sandbox", b"tmpfs", 0, None), ctypes.get_errno())
        print("mount proc", libc.mount(b"proc", b"/tmp", b"proc", 0, None), ctypes.get_errno())
        wait_release()
    """
    with held_run(code, marker) as (pids, _future):
        sandboxed = python_pids(pids)[0]
        parent = int(proc_status(sandboxed)["PPid"])
        same = {
            name: os.readlink(f"/proc/{sandboxed}/ns/{name}") == os.readlink(f"/proc/{parent}/ns/{name}")
            for name in ("user", "mnt", "net", "uts")
        }
        mounts = Path(f"/proc/{sandboxed}/mountinfo").read_text()
    assert all(same.values()), same  # still in the namespaces bubblewrap made
    mount_points = [line.split()[4] for line in mounts.splitlines()]
    assert "/sandbox" not in mount_points and mount_points.count("/tmp") == 1


def test_fork_bomb_is_contained_and_gone() -> None:
    marker = token()
    started = time.monotonic()
    result = run(
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        marker=marker,
        max_processes=16,
        wall_seconds=3,
    )
    assert result.status == "timeout"
    assert result.limit_hit in ("wall_seconds", "cpu_seconds")
    assert time.monotonic() - started < 10
    assert_tree_gone(marker)


def test_thread_bomb_hits_the_process_limit() -> None:
    marker = token()
    result = run(
        """
        import threading, time
        threads = []
        try:
            while True:
                t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
                t.start()
                threads.append(t)
        except RuntimeError as exc:
            print("stopped at", len(threads), exc)
        """,
        marker=marker,
        max_processes=20,
    )
    assert result.status == "ok", result.stderr
    assert result.limit_hit == "max_processes"  # seen in the pids cgroup's events
    assert int(result.stdout.split()[2]) < 20
    assert_tree_gone(marker)


def test_daemonised_grandchild_is_gone_when_the_result_comes_back() -> None:
    marker = token()
    started = time.monotonic()
    result = run(
        """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 3)
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]])
            os._exit(0)
        print("parent done")
        """,
        marker=marker,
        wall_seconds=5,
    )
    assert result.status == "ok", result.stderr
    assert result.stdout == "parent done\n"
    assert time.monotonic() - started < 4  # not held until the wall limit
    assert_tree_gone(marker)


def test_sigstop_on_itself_ends_in_timeout_and_is_gone() -> None:
    marker = token()
    result = run("import os, signal; os.kill(os.getpid(), signal.SIGSTOP)", marker=marker, wall_seconds=1.5)
    assert result.status == "timeout" and result.limit_hit == "wall_seconds"
    assert_tree_gone(marker)


def test_ignoring_sigterm_does_not_save_it() -> None:
    marker = token()
    result = run(
        """
        import signal, time, os
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
            signal.signal(sig, signal.SIG_IGN)
        if os.fork() == 0:
            time.sleep(60)
        while True:
            time.sleep(1)
        """,
        marker=marker,
        wall_seconds=1.5,
    )
    assert result.status == "timeout" and result.limit_hit == "wall_seconds"
    assert result.signal is not None
    assert_tree_gone(marker)


def test_processes_left_running_when_the_worker_dies_are_killed(tmp_path) -> None:
    """--die-with-parent and the parent-death signal: a worker killed mid-run leaves nothing behind."""
    marker = token()
    script = tmp_path / "worker.py"
    # The marker reaches the worker through its environment, so only the run's processes carry it on argv.
    script.write_text(
        "import os\n"
        "from cards.sandbox import run_python\n"
        "run_python({'main.py': 'import time; time.sleep(60)'}, args=[os.environ['RUN_MARKER']])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "RUN_MARKER": marker}
    worker = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.monotonic() + 15
    while not python_pids(pids_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert python_pids(pids_with(marker)), "the run did not start"
    assert worker.pid not in pids_with(marker)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 5
    while pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert_tree_gone(marker)
    # The dead worker's empty cgroups are left behind; the next worker's sweep removes them (once the
    # kernel has finished detaching the exited processes: until then rmdir says busy).
    swept: list[str] = []
    deadline = time.monotonic() + 5
    while not swept and time.monotonic() < deadline:
        swept = [d for d in sweep_stale() if f"{cgroups.PREFIX}{worker.pid}-" in d]
        time.sleep(0.05)
    assert swept, "the killed worker's cgroups were expected to be left for the sweep"
    assert not any(f"{cgroups.PREFIX}{worker.pid}-" in d for d in sweep_stale())


def test_kernel_surface_calls_are_refused() -> None:
    """io_uring, bpf, perf events, keyrings, userfaultfd, ptrace, the new mount API: EPERM."""
    result = run(
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for nr in (425, 321, 298, 250, 248, 323, 101, 310, 430, 428, 272, 308, 165):
            print(nr, libc.syscall(nr, 0, 0, 0, 0, 0), ctypes.get_errno())
        """
    )
    assert result.status == "ok", result.stderr
    for line in result.stdout.splitlines():
        _nr, returned, error = line.split()
        assert (returned, error) == ("-1", "1"), line


def test_other_syscall_abis_kill_the_process() -> None:
    """An x32 system call (bit 30 set) would dodge a filter written for x86_64 numbers."""
    result = run("import ctypes\nctypes.CDLL(None).syscall(0x40000000 | 39)\nprint('survived')")
    assert result.status == "error" and result.signal_name == "SIGSYS"
    assert "survived" not in result.stdout
