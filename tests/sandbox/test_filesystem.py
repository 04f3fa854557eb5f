"""Attacks on the host's files: reading secrets and writing anywhere but the run's own /tmp.

Reads are checked by planting a fresh secret on the host and making the code print everything it
can read: the secret must not come back. Writes are checked on the host's side.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from cards.sandbox import host as sandbox_host
from cards.sandbox import run_python
from tests.sandbox_helpers import assert_tree_gone, run, token

pytestmark = pytest.mark.sandbox

PROJECT_DIR = Path(__file__).resolve().parents[2]

DUMP_EVERYTHING = """
    import os, sys
    found = []
    for path in sys.argv[2:]:
        try:
            with open(path, "rb") as fh:
                found.append(fh.read(100000))
        except Exception as exc:
            found.append(repr(exc).encode())
    # Everything readable outside the read-only libraries, plus the interesting /proc files.
    for dirpath, dirs, files in os.walk("/"):
        if dirpath == "/":
            dirs[:] = [d for d in dirs if d not in ("usr", "opt", "proc", "dev", "sys")]
        for name in files:
            try:
                with open(os.path.join(dirpath, name), "rb") as fh:
                    found.append(fh.read(100000))
            except Exception:
                pass
    for name in ("environ", "cmdline", "mountinfo", "status"):
        for pid in ("1", "self", str(os.getppid())):
            try:
                found.append(open(f"/proc/{pid}/{name}", "rb").read())
            except Exception as exc:
                found.append(repr(exc).encode())
    sys.stdout.buffer.write(b"\\n".join(found))
"""


@pytest.fixture
def planted(tmp_path: Path):
    """A secret in the host's /tmp, in the project folder and in the worker's environment."""
    secret = token()
    host_tmp_file = tmp_path / "secret.txt"
    host_tmp_file.write_text(secret)
    project_file = PROJECT_DIR / f".sandbox-test-{token()}"
    project_file.write_text(secret)
    os.environ["STUDYAPP_SANDBOX_TEST_SECRET"] = secret
    try:
        yield secret, [str(host_tmp_file), str(project_file)]
    finally:
        project_file.unlink()
        del os.environ["STUDYAPP_SANDBOX_TEST_SECRET"]


def test_cannot_read_planted_secrets_in_host_tmp_or_project(planted) -> None:
    secret, paths = planted
    marker = token()
    # argv[1] is the marker; the planted paths follow it.
    result = run_python({"main.py": textwrap.dedent(DUMP_EVERYTHING)}, args=[marker, *paths])
    assert result.status == "ok", result.stderr
    assert secret not in result.stdout
    assert "FileNotFoundError" in result.stdout  # the paths simply do not exist in there
    assert_tree_gone(marker)


def test_cannot_read_shadow_settings_or_database() -> None:
    shadow_line = Path("/etc/shadow").read_text().splitlines()[0]
    settings_text = (PROJECT_DIR / "studyapp" / "settings.py").read_text()
    paths = ["/etc/shadow", str(PROJECT_DIR / "studyapp" / "settings.py"), str(PROJECT_DIR / "db.sqlite3")]
    result = run_python({"main.py": textwrap.dedent(DUMP_EVERYTHING)}, args=["x", *paths])
    assert result.status == "ok", result.stderr
    assert shadow_line not in result.stdout
    assert "SECRET_KEY" not in result.stdout
    assert settings_text[:200] not in result.stdout
    assert "SQLite format" not in result.stdout


def test_sees_no_host_environment_variable(planted) -> None:
    secret, _ = planted
    os.environ["SECRET_KEY"] = "host-secret-key-" + secret
    try:
        result = run(
            """
            import os
            print(dict(os.environ))
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        print(open(f"/proc/{pid}/environ", "rb").read())
                    except Exception as exc:
                        print(pid, exc)
            """
        )
    finally:
        del os.environ["SECRET_KEY"]
    assert result.status == "ok", result.stderr
    assert secret not in result.stdout
    assert "SECRET_KEY" not in result.stdout and "DATABASE_URL" not in result.stdout
    assert "REDIS_URL" not in result.stdout and "EMAIL" not in result.stdout


def test_interpreter_and_site_packages_are_read_only_and_writes_land_nowhere_on_host() -> None:
    marker = token()
    venv_site = Path(sandbox_host.layout().venv) / "lib" / "python3.11" / "site-packages"
    before_site = set(os.listdir(venv_site))
    before_stdlib = set(os.listdir("/usr/lib/python3.11"))
    targets = [
        "/sandbox/x", "/x", "/usr/lib/python3.11/x.py", f"{venv_site}/x.py", f"{venv_site}/httpx/__init__.py",
        "/etc/passwd", "/dev/x", "/proc/x", "/usr/bin/python3.11", "/opt/x",
    ]  # fmt: skip
    result = run(
        f"""
        import sys
        for path in {targets!r}:
            try:
                with open(path, "a") as fh:
                    fh.write(sys.argv[1])
                print("WROTE", path)
            except OSError as exc:
                print("refused", path, exc.errno)
        """,
        marker=marker,
    )
    assert result.status == "ok", result.stderr
    assert set(os.listdir(venv_site)) == before_site
    assert set(os.listdir("/usr/lib/python3.11")) == before_stdlib
    assert marker not in (venv_site / "httpx" / "__init__.py").read_text()
    assert not Path("/x").exists() and not Path("/opt/x").exists() and not Path("/sandbox").exists()
    assert result.stdout.count("refused") == len(targets)  # and the host confirms it above


def test_tmp_is_private_and_gone_after_the_run() -> None:
    host_mnt = sandbox_host.layout().mount_dir
    marker = token()
    first = run(
        """
        import os, sys
        open("/tmp/kept", "w").write(sys.argv[1])
        open("/dev/shm/kept", "w").write(sys.argv[1])
        os.symlink("/etc/shadow", "/tmp/link")
        """,
        marker=marker,
    )
    assert first.status == "ok", first.stderr
    # Host side: the mount point is empty and carries no mount (the tmpfs lived in the run's namespace).
    assert os.listdir(host_mnt) == []
    assert str(host_mnt) not in Path("/proc/self/mountinfo").read_text()
    assert not Path("/tmp/kept").exists() and not Path("/dev/shm/kept").exists()
    second = run("import os; print(os.listdir('/tmp'), os.listdir('/dev/shm'))")
    assert second.stdout.strip() == "[] []"


def test_symlink_planted_in_tmp_is_never_followed_by_the_host(tmp_path: Path) -> None:
    """Judge0's CVE-2024-28185: the host followed a symlink made inside the sandbox."""
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    result = run(
        f"""
        import os
        for path in ("/tmp/out", "/tmp/stdout", "/sandbox/out", "/tmp/main.py"):
            try:
                os.symlink({str(victim)!r}, path)
            except OSError:
                pass
        print("x" * 100)
        """
    )
    assert result.status == "ok", result.stderr
    assert victim.read_text() == "untouched"
    assert os.listdir(sandbox_host.layout().mount_dir) == []


@pytest.mark.parametrize("name", ["../escape.py", "/etc/cron.d/x", "a/../../x.py", "", "a//b.py", "./x.py"])
def test_file_names_cannot_point_outside_the_sandbox(name: str) -> None:
    with pytest.raises(ValueError):
        run_python({"main.py": "print(1)", name: "print(2)"})


def test_tmp_size_cap_ends_in_a_clear_status_and_spares_the_host_disk() -> None:
    free_before = shutil.disk_usage("/").free
    result = run(
        """
        chunk = b"x" * (1 << 20)
        with open("/tmp/fill", "wb") as fh:
            for _ in range(200):
                fh.write(chunk)
        """,
        tmp_mb=8,
    )
    assert result.status == "error"
    assert "No space left" in result.stderr or "File too large" in result.stderr
    assert shutil.disk_usage("/").free > free_before - 50 * (1 << 20)
    assert result.memory_peak_bytes is None or result.memory_peak_bytes < 64 * (1 << 20)


def test_tmp_inode_cap_ends_in_a_clear_status() -> None:
    inodes_before = os.statvfs("/").f_ffree
    result = run(
        """
        for i in range(100000):
            open(f"/tmp/f{i}", "w").close()
        """,
        tmp_inodes=500,
    )
    assert result.status == "error"
    assert "No space left" in result.stderr
    assert result.wall_seconds < 10
    assert os.statvfs("/").f_ffree > inodes_before - 5000
