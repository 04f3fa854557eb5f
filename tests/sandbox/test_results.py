"""Benign code gets its exact output back; statuses, the command line, concurrency, refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command

from cards.challenges.apps import sandbox_config as sandbox_config_from_settings
from cards.sandbox import SandboxLimits, SandboxResult, SandboxUnavailable, run_python
from cards.sandbox import config as sandbox_config
from cards.sandbox import host as sandbox_host
from tests.sandbox_helpers import assert_tree_gone, blocked_reading, pids_with, python_pids, run, token

pytestmark = pytest.mark.sandbox

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_exact_stdout_stderr_and_exit_code() -> None:
    result = run("import sys\nsys.stdout.write('héllo\\x00 wörld')\nsys.stderr.write('warn\\n')\nsys.exit(0)")
    assert result.status == "ok" and result.exit_code == 0 and result.signal is None
    assert result.stdout == "héllo\x00 wörld"
    assert result.stderr == "warn\n"
    assert result.limit_hit is None and not result.output_truncated


def test_invalid_utf8_is_decoded_safely_and_kept_raw() -> None:
    result = run("import os; os.write(1, b'ok \\xff\\xfe\\x80 end')")
    assert result.stdout_bytes == b"ok \xff\xfe\x80 end"
    assert result.stdout == "ok \ufffd\ufffd\ufffd end"
    json.dumps(result.to_dict())


def test_non_zero_exit_and_exception_are_errors() -> None:
    assert run("raise SystemExit(3)").exit_code == 3
    crashed = run("raise ValueError('boom')")
    assert crashed.status == "error" and crashed.exit_code == 1
    assert "ValueError: boom" in crashed.stderr


def test_stdin_args_env_and_a_harness_file_beside_the_entry() -> None:
    result = run_python(
        {
            "harness.py": "import os, sys, solution\nprint(solution.double(int(sys.stdin.read())), sys.argv[1:], "
            "os.environ['GRADER_TOKEN'])",
            "solution.py": "def double(x):\n    return 2 * x\n",
            "pkg/helper.py": "VALUE = 1\n",
        },
        entry="harness.py",
        args=["--fast", "x y"],
        stdin=b"21",
        env={"GRADER_TOKEN": "abc"},
    )
    assert result.status == "ok", result.stderr
    assert result.stdout == "42 ['--fast', 'x y'] abc\n"


def test_httpx_and_requests_are_there_and_the_project_is_not() -> None:
    result = run(
        """
        import httpx, requests, sys
        print(httpx.__version__, requests.__version__)
        for name in ("django", "cards", "studyapp", "celery"):
            try:
                __import__(name)
                print("IMPORTED", name)
            except ImportError:
                pass
        print(sys.path)
        """
    )
    assert result.status == "ok", result.stderr
    assert result.stdout.startswith("0.28.1 2.34.2")
    assert "IMPORTED" not in result.stdout
    assert "/work" not in result.stdout and "/root" not in result.stdout


def test_threads_subprocesses_and_process_pools_work() -> None:
    """Challenges about threads and processes need them: a pool, a child interpreter, threads."""
    result = run(
        """
        import concurrent.futures, subprocess, sys, threading
        with concurrent.futures.ProcessPoolExecutor(2) as pool:
            print(sorted(pool.map(abs, [-3, -1, -2])))
        print(subprocess.run([sys.executable, "-c", "print(42)"], capture_output=True, text=True).stdout.strip())
        threads = [threading.Thread(target=lambda: None) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("threads ok")
        """
    )
    assert result.status == "ok", result.stderr
    assert result.stdout == "[1, 2, 3]\n42\nthreads ok\n"


def test_grader_pipe_is_passed_in() -> None:
    read_end, write_end = os.pipe()
    try:
        result = run_python(
            {"main.py": f"import os\nfor i in range(3):\n    os.write({write_end}, b'tick')\n"}, pass_fds=(write_end,)
        )
        os.close(write_end)
        write_end = -1
        assert result.status == "ok", result.stderr
        assert os.read(read_end, 100) == b"tick" * 3
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


def test_eight_concurrent_runs_from_threads_each_get_their_own_result() -> None:
    """Eight runs held alive together (each blocks on a shared pipe until all eight are seen running)."""
    release_r, release_w = os.pipe()
    markers = [token() for _ in range(8)]

    def one(i: int) -> SandboxResult:
        code = (
            f"import os, sys\nopen('/tmp/me', 'w').write('{i}')\nos.read({release_r}, 1)\n"
            f"print({i}, open('/tmp/me').read(), os.getuid())"
        )
        return run(code, marker=markers[i], pass_fds=(release_r,))

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(one, i) for i in range(8)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = [m for m in markers if any(blocked_reading(p, release_r) for p in python_pids(pids_with(m)))]
            if len(held) == 8:
                break
            time.sleep(0.02)
        assert len(held) == 8, "the eight runs were not all alive at once"
        os.write(release_w, b"x" * 8)
        results = [f.result(timeout=60) for f in futures]
    os.close(release_r)
    os.close(release_w)
    uids = set()
    for i, (result, marker) in enumerate(zip(results, markers, strict=True)):
        assert result.status == "ok", result.stderr
        number, written, uid = result.stdout.split()
        assert number == written == str(i)  # nobody saw another run's /tmp
        uids.add(uid)
        assert_tree_gone(marker)
    assert len(uids) == 8  # one uid per concurrent run


def test_the_app_passes_its_sandbox_settings_in_and_limits_only_tighten(settings) -> None:
    # The sandbox reads no settings: the app builds its configuration from SANDBOX_* and configures it at start.
    assert sandbox_config.current() == sandbox_config_from_settings()
    settings.SANDBOX_MEMORY_MB = 128
    settings.SANDBOX_WALL_SECONDS = 4
    settings.SANDBOX_ROOT = "/srv/elsewhere"
    config = sandbox_config_from_settings()
    assert config.root == Path("/srv/elsewhere") and sandbox_host.layout(config).venv == Path("/srv/elsewhere/venv")
    limits = config.limits
    assert limits.memory_mb == 128 and limits.wall_seconds == 4 and limits.tmp_mb == 16
    tighter = limits.tightened(memory_mb=64, wall_seconds=60)
    assert tighter.memory_mb == 64 and tighter.wall_seconds == 4
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=0)
    with pytest.raises(ValueError):
        sandbox_config.SandboxConfig(uid_count=0)


def test_refuses_without_bubblewrap_and_never_runs_unsandboxed(monkeypatch, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_python({"main.py": f"open({str(marker)!r}, 'w')"})
    assert not marker.exists()


def test_refuses_without_the_sandbox_interpreter(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox_config, "_current", sandbox_config.replaced(root=tmp_path / "missing"))
    with pytest.raises(SandboxUnavailable, match="install_sandbox.sh"):
        run_python({"main.py": "print(1)"})


def test_refuses_when_namespaces_cannot_be_created(monkeypatch) -> None:
    """A bwrap that cannot set up (here: a fake that fails like a seccomp-confined Docker) is a refusal."""
    fake = Path("/opt/studyapp-sandbox/fake-bwrap-test")
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    try:
        monkeypatch.setattr(sandbox_host.shutil, "which", lambda name: str(fake))
        sandbox_host._probe.cache_clear()
        with pytest.raises(SandboxUnavailable, match="namespace"):
            run_python({"main.py": "print(1)"})
    finally:
        fake.unlink()
        sandbox_host._probe.cache_clear()


def test_refuses_with_a_missing_or_stale_sandbox_exec(monkeypatch, tmp_path: Path) -> None:
    real = sandbox_host.layout()
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "venv").symlink_to(real.venv)
    (root / "mnt").mkdir()
    monkeypatch.setattr(sandbox_config, "_current", sandbox_config.replaced(root=root))
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w')"
    with pytest.raises(SandboxUnavailable, match="sandbox-exec is missing"):
        run_python({"main.py": code})
    helper = root / "bin" / "sandbox-exec"
    helper.write_bytes(real.exec_helper.read_bytes())
    helper.chmod(0o755)
    (root / "bin" / "sandbox-exec.c").write_text("/* an older version */\n")
    with pytest.raises(SandboxUnavailable, match="another version"):
        run_python({"main.py": code})
    assert not marker.exists()


def _helper(*args: str, program: list[str]) -> subprocess.CompletedProcess[str]:
    helper = str(sandbox_host.layout().exec_helper)
    return subprocess.run([helper, *args, "--", *program], capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("uid_args", [[], ["--uid", "0", "--gid", "0"], ["--uid", "61000", "--gid", "0"]])
def test_sandbox_exec_never_runs_a_program_as_root(tmp_path: Path, uid_args: list[str]) -> None:
    marker = tmp_path / "ran"
    mnt = str(sandbox_host.layout().mount_dir)
    common = ["--tmpfs", mnt, "size=1m", "--parent", str(os.getpid())]
    done = _helper(*common, *uid_args, program=["/usr/bin/touch", str(marker)])
    assert done.returncode == 127 and "sandbox-exec: missing" in done.stderr
    assert not marker.exists()


def test_a_failed_setup_step_is_a_refusal_naming_the_step(monkeypatch, tmp_path: Path) -> None:
    from cards.sandbox import cgroups

    marker = tmp_path / "ran"
    bogus = cgroups.RunCgroup(version=1, dirs={"pids": str(tmp_path / "no-such-cgroup")})
    monkeypatch.setattr(cgroups, "create", lambda *args: bogus)
    with pytest.raises(SandboxUnavailable, match="joining the run's cgroup: No such file or directory"):
        run_python({"main.py": f"open({str(marker)!r}, 'w')"})
    assert not marker.exists()


def test_command_json_last_line(tmp_path: Path, capsys) -> None:
    program = tmp_path / "prog.py"
    program.write_text("import sys\nprint('hello', sys.argv[1:])\n")
    call_command("sandbox_run", str(program), "a", "--json", "--wall-seconds", "5")
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["status"] == "ok" and result["stdout"] == "hello ['a']\n"
    assert result["limits"]["wall_seconds"] == 5


def test_command_needs_no_database_or_redis(tmp_path: Path) -> None:
    program = tmp_path / "prog.py"
    program.write_text("while True: pass\n")
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody:none@127.0.0.1:9/none",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "sandbox_run", str(program), "--json", "--cpu-seconds", "1"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr  # the run's status is not "ok"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "timeout" and result["limit_hit"] == "cpu_seconds"


def test_command_json_line_cannot_be_forged_by_the_code(tmp_path: Path, capsys) -> None:
    program = tmp_path / "forge.py"
    forged = json.dumps({"status": "ok", "exit_code": 0})
    program.write_text(f"import time\nprint({forged!r}, flush=True)\ntime.sleep(30)\n")
    with pytest.raises(SystemExit):
        call_command("sandbox_run", str(program), "--json", "--wall-seconds", "1")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1  # the code's output is inside the JSON, never a line of its own
    result = json.loads(lines[-1])
    assert result["status"] == "timeout" and '"status": "ok"' in result["stdout"]


def test_command_refuses_an_unreadable_file_with_status_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "sandbox_run", str(tmp_path / "missing.py"), "--json"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "missing.py" in done.stderr
    assert done.stdout == ""
