"""Run a Python program under bubblewrap with hard limits, and measure it from outside.

One call, one run: ``run_python(files, entry=...)`` writes the files into a fresh read-only /sandbox
(copied by bubblewrap from memfds: the host never touches a path inside the sandbox), runs
``python entry`` there as a uid of its own, and returns a SandboxResult once the whole process tree is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import cgroups, config
from .host import HostLayout, check_available
from .limits import MIB, SandboxLimits
from .netns import NetworkNamespace
from .result import SandboxResult, SandboxUnavailable, Status
from .seccomp import filter_program
from .slots import claim_uid

SANDBOX_DIR = "/sandbox"
# Paths inside the sandbox: its own private tmpfs, never the host's /tmp.
TMP = "/tmp"  # noqa: S108
SHM = "/dev/shm"  # noqa: S108
CPU_POLL_SECONDS = 0.025
READ_CHUNK = 65536
# bubblewrap's own two processes (the monitor and pid 1) count against the process limits.
BWRAP_PROCESSES = 2
TEARDOWN_SECONDS = 10.0


def run_python(
    files: Mapping[str, str | bytes],
    entry: str = "main.py",
    args: Sequence[str] = (),
    stdin: bytes = b"",
    limits: SandboxLimits | None = None,
    netns: NetworkNamespace | None = None,
    env: Mapping[str, str] | None = None,
    pass_fds: Iterable[int] = (),
    stop_fd: int | None = None,
) -> SandboxResult:
    """Run ``python entry args`` in a fresh sandbox holding ``files`` and return what happened.

    ``stop_fd``, if given, is a descriptor of the caller's (a pipe's read end, say): when it becomes
    readable the whole run is killed at once and its status is "stopped".

    Raises SandboxUnavailable (never runs the code unsandboxed) when bubblewrap, namespaces, the
    sandbox's interpreter or root are missing, and ValueError for a bad file name or entry.
    """
    limits = limits or config.current().limits
    contents = _check_files(files, entry)
    extra_env = _check_env(env or {})
    host = check_available()
    with claim_uid(host.lock_dir, host.uid_base, host.uid_count) as uid:
        group = cgroups.create(limits.memory_mb * MIB, limits.max_processes + BWRAP_PROCESSES)
        try:
            run = _Run(host, uid, limits, group, netns, tuple(pass_fds), stop_fd)
            return run.execute(contents, entry, list(args), stdin, extra_env)
        finally:
            if group is not None:
                group.wait_empty(TEARDOWN_SECONDS)
                group.remove()


def _check_files(files: Mapping[str, str | bytes], entry: str) -> dict[str, bytes]:
    """Validate names (relative, no '..', no NUL) and encode contents."""
    if entry not in files:
        raise ValueError(f"entry {entry!r} is not one of the files")
    contents: dict[str, bytes] = {}
    for name, data in files.items():
        parts = name.split("/")
        if not name or "\0" in name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad file name {name!r}: use a relative path without '.' or '..' parts")
        contents[name] = data.encode() if isinstance(data, str) else bytes(data)
    return contents


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"bad environment variable {key!r}")
    return dict(env)


def _memfd(name: str, data: bytes) -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start (bwrap copies from it)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _etc_files(uid: int) -> dict[str, bytes]:
    """A minimal /etc: the run's user, and localhost for fixtures reached by name."""
    return {
        "/etc/passwd": (
            f"root:x:0:0::/nonexistent:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}::{TMP}:/usr/sbin/nologin\n"
        ).encode(),
        "/etc/group": f"root:x:0:\nsandbox:x:{uid}:\n".encode(),
        "/etc/hosts": b"127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    }


def _rlimits(limits: SandboxLimits, cgroup: bool) -> tuple[tuple[int, int, int], ...]:
    # With cgroups the tree's total CPU time (exact, polled) is the limit and RLIMIT_CPU (per process,
    # tick-sampled) a backstop a second later; without, RLIMIT_CPU is the limit.
    cpu = max(1, int(limits.cpu_seconds + 0.999)) + (1 if cgroup else 0)
    # With a memory cgroup the tree's memory is capped there (and an OOM kill is seen from outside);
    # RLIMIT_AS stays as a per-process backstop, loose enough not to pre-empt the cgroup.
    address_space = limits.memory_mb * MIB * (4 if cgroup else 1)
    # Looser than the pids cgroup where there is one, so the cgroup (whose hits are counted) binds first.
    nproc = limits.max_processes + BWRAP_PROCESSES + (8 if cgroup else 0)
    return (
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_FSIZE, limits.tmp_mb * MIB, limits.tmp_mb * MIB),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_STACK, limits.stack_mb * MIB, limits.stack_mb * MIB),
        (resource.RLIMIT_MEMLOCK, 0, 0),
        (resource.RLIMIT_MSGQUEUE, 0, 0),
    )


@dataclass
class _Outputs:
    cap: int
    streams: dict[int, bytearray] = field(default_factory=dict)
    total: int = 0
    truncated: bool = False

    def add(self, fd: int, data: bytes) -> bool:
        """Keep what fits under the cap; True once the cap is passed."""
        room = self.cap - self.total
        if room > 0:
            self.streams[fd] += data[:room]
        self.total += len(data)
        if self.total > self.cap:
            self.truncated = True
        return self.truncated


class _Run:
    """One run's processes and descriptors; ``execute`` is the whole life of it."""

    def __init__(
        self,
        host: HostLayout,
        uid: int,
        limits: SandboxLimits,
        group: cgroups.RunCgroup | None,
        netns: NetworkNamespace | None,
        pass_fds: tuple[int, ...],
        stop_fd: int | None = None,
    ) -> None:
        self.host = host
        self.stop_fd = stop_fd
        self.uid = uid
        self.limits = limits
        self.group = group
        self.netns = netns
        self.pass_fds = pass_fds
        self.to_close: list[int] = []
        self.child_pidfd: int | None = None
        self.kill_reason: str | None = None

    def execute(
        self, files: dict[str, bytes], entry: str, args: list[str], stdin: bytes, env: dict[str, str]
    ) -> SandboxResult:
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        self.to_close += [status_r, status_w]
        try:
            cmd, child_fds = self._command(files, entry, args, env, status_w)
            stdin_fd = self._stdin_fd(stdin)
            netns_fds = (self.netns.fd,) if self.netns else ()
            started = time.monotonic()
            try:
                # No preexec_fn: subprocess then uses vfork, so the worker (however big) is not copied;
                # the root-side steps are sandbox-exec's (see sandbox_exec.c).
                proc = subprocess.Popen(
                    [*self._exec_helper(), "--", *cmd],
                    stdin=stdin_fd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(*child_fds, status_w, *netns_fds, *self.pass_fds),
                    start_new_session=True,
                    env={},
                )
            except (subprocess.SubprocessError, OSError) as exc:
                raise SandboxUnavailable(f"could not start the sandbox: {exc}") from exc
            for fd in (*child_fds, status_w, stdin_fd):
                if fd not in (subprocess.DEVNULL,):
                    os.close(fd)
                    if fd in self.to_close:
                        self.to_close.remove(fd)
            return self._supervise(proc, status_r, started)
        finally:
            for fd in self.to_close:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if self.child_pidfd is not None:
                os.close(self.child_pidfd)

    def _exec_helper(self) -> list[str]:
        """sandbox-exec and its arguments: cgroups, network namespace, private /tmp, rlimits, uid."""
        cmd = [str(self.host.exec_helper)]
        for procs in self.group.procs_files if self.group else ():
            cmd += ["--cgroup", procs]
        if self.netns is not None:
            cmd += ["--netns", str(self.netns.fd)]
        tmpfs_options = f"size={self.limits.tmp_mb}m,nr_inodes={self.limits.tmp_inodes},mode=1777"
        cmd += ["--tmpfs", str(self.host.mount_dir), tmpfs_options]
        for which, soft, hard in _rlimits(self.limits, self.group is not None):
            cmd += ["--rlimit", f"{which}:{soft}:{hard}"]
        cmd += ["--uid", str(self.uid), "--gid", str(self.uid), "--parent", str(os.getpid())]
        return cmd

    def _stdin_fd(self, stdin: bytes) -> int:
        if not stdin:
            return subprocess.DEVNULL
        writable = _memfd("stdin", stdin)
        # The sandboxed process gets a read-only descriptor: it cannot grow or change its own input.
        read_only = os.open(f"/proc/self/fd/{writable}", os.O_RDONLY | os.O_CLOEXEC)
        os.close(writable)
        return read_only

    def _command(
        self, files: dict[str, bytes], entry: str, args: list[str], env: dict[str, str], status_w: int
    ) -> tuple[list[str], list[int]]:
        mnt = str(self.host.mount_dir)
        cmd = [self.host.bwrap, "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-uts"]
        cmd += ["--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv"]
        if self.netns is None:
            cmd.append("--unshare-net")
        cmd += ["--hostname", "sandbox", "--json-status-fd", str(status_w)]
        child_fds: list[int] = []
        program = filter_program()
        if program is not None:
            fd = _memfd("seccomp", program)
            child_fds.append(fd)
            self.to_close.append(fd)
            cmd += ["--seccomp", str(fd)]
        for path in self.host.read_only_binds():
            cmd += ["--ro-bind", path, path]
        cmd += ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin"]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--bind", mnt, TMP, "--bind", mnt, SHM]
        cmd += ["--dir", "/etc"]
        for path, data in _etc_files(self.uid).items():
            fd = _memfd(path, data)
            child_fds.append(fd)
            self.to_close.append(fd)
            cmd += ["--perms", "0444", "--file", str(fd), path]
        cmd += ["--dir", SANDBOX_DIR]
        made = {SANDBOX_DIR}
        for name, data in files.items():
            target = posixpath.join(SANDBOX_DIR, name)
            for parent in _parents(target):
                if parent not in made:
                    cmd += ["--dir", parent]
                    made.add(parent)
            fd = _memfd(name, data)
            child_fds.append(fd)
            self.to_close.append(fd)
            cmd += ["--perms", "0444", "--file", str(fd), target]
        cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SANDBOX_DIR]
        base_env = {
            "PATH": f"{self.host.venv}/bin:/usr/bin",
            "HOME": TMP,
            "TMPDIR": TMP,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            # glibc reserves 64 MiB of address space per thread arena: cap arenas so RLIMIT_AS counts
            # memory rather than threads.
            "MALLOC_ARENA_MAX": "2",
        }
        for key, value in {**base_env, **env}.items():
            cmd += ["--setenv", key, value]
        cmd += ["--", self.host.python, "-B", "-s", entry, *args]
        return cmd, child_fds

    def _supervise(self, proc: subprocess.Popen[bytes], status_r: int, started: float) -> SandboxResult:
        assert proc.stdout is not None and proc.stderr is not None
        limits = self.limits
        deadline = started + limits.wall_seconds
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        outputs = _Outputs(cap=limits.output_bytes, streams={out_fd: bytearray(), err_fd: bytearray()})
        bwrap_pidfd = os.pidfd_open(proc.pid)
        self.to_close.append(bwrap_pidfd)
        status_buf = bytearray()
        selector = selectors.DefaultSelector()
        for fd in (out_fd, err_fd, status_r, bwrap_pidfd):
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        if self.stop_fd is not None:
            selector.register(self.stop_fd, selectors.EVENT_READ)  # the caller's: never read, only watched
        open_fds = {out_fd, err_fd, status_r}
        bwrap_done = False
        next_cpu_check = started + CPU_POLL_SECONDS
        hard_stop = deadline + TEARDOWN_SECONDS
        try:
            while open_fds or not bwrap_done:
                now = time.monotonic()
                if now >= hard_stop:  # the tree would not die: should never happen, never wait forever
                    raise RuntimeError("sandbox: the process tree survived SIGKILL")
                wake = min(deadline, next_cpu_check) if self.kill_reason is None else hard_stop
                for key, _ in selector.select(max(0.0, wake - now)):
                    fd = key.fd
                    if fd == self.stop_fd:
                        selector.unregister(fd)
                        if self.kill_reason is None:
                            self._kill(proc, "stopped")
                        continue
                    if fd == bwrap_pidfd:
                        bwrap_done = True
                        selector.unregister(fd)
                        continue
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not data:
                        selector.unregister(fd)
                        open_fds.discard(fd)
                    elif fd == status_r:
                        status_buf += data
                        self._note_child_pid(status_buf)
                    elif outputs.add(fd, data):
                        self._kill(proc, "output_bytes")
                now = time.monotonic()
                if self.kill_reason is None:
                    if now >= deadline:
                        self._kill(proc, "wall_seconds")
                    elif now >= next_cpu_check:
                        next_cpu_check = now + CPU_POLL_SECONDS
                        used = self.group.cpu_seconds() if self.group else None
                        if used is not None and used > limits.cpu_seconds:
                            self._kill(proc, "cpu_seconds")
        finally:
            selector.close()
            proc.stdout.close()
            proc.stderr.close()
        returncode = proc.wait()
        if not self._note_child_pid(status_buf) and self.kill_reason is None:
            stderr = bytes(outputs.streams[err_fd]).decode("utf-8", "replace").strip()
            raise SandboxUnavailable(f"the sandbox could not be set up: {stderr or returncode}")
        self._wait_tree_gone()
        wall = time.monotonic() - started
        return self._result(returncode, outputs, out_fd, err_fd, wall)

    def _note_child_pid(self, status_buf: bytearray) -> bool:
        """Open a pidfd on bwrap's pid 1 from the first status line (written before any learner code runs)."""
        if self.child_pidfd is not None:
            return True
        line, sep, _ = bytes(status_buf).partition(b"\n")
        if not sep:
            return False
        try:
            pid = int(json.loads(line)["child-pid"])
        except (ValueError, KeyError, TypeError):
            return False
        with contextlib.suppress(ProcessLookupError):
            pidfd = os.pidfd_open(pid)
            if _is_namespace_init(pid):  # the pid was not reused since bwrap wrote it
                self.child_pidfd = pidfd
            else:
                os.close(pidfd)
        return True

    def _kill(self, proc: subprocess.Popen[bytes], reason: str) -> None:
        """SIGKILL pid 1 of the run's pid namespace (the kernel then kills all of it) and bubblewrap."""
        self.kill_reason = reason
        if self.child_pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.child_pidfd, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # --die-with-parent: pid 1 dies with it, and the namespace with pid 1
        if self.group is not None:
            self.group.kill_all()

    def _wait_tree_gone(self) -> None:
        """Return only when no process of the run is left."""
        if self.group is not None:
            if not self.group.wait_empty(TEARDOWN_SECONDS):
                raise RuntimeError("sandbox: processes of the run are still alive after SIGKILL")
        elif self.child_pidfd is not None:
            # pid 1 of a pid namespace finishes exiting only after every other process in it is gone.
            selector = selectors.DefaultSelector()
            selector.register(self.child_pidfd, selectors.EVENT_READ)
            if not selector.select(TEARDOWN_SECONDS):
                signal.pidfd_send_signal(self.child_pidfd, signal.SIGKILL)
                selector.select(TEARDOWN_SECONDS)
            selector.close()

    def _result(self, returncode: int, outputs: _Outputs, out_fd: int, err_fd: int, wall: float) -> SandboxResult:
        exit_code, sig = _decode_returncode(returncode)
        cpu = self.group.cpu_seconds() if self.group else None
        limit_hit = self.kill_reason
        status: Status
        if limit_hit == "output_bytes":
            status = "output_limit"
        elif limit_hit in ("wall_seconds", "cpu_seconds"):
            status = "timeout"
        elif limit_hit == "stopped":
            status, limit_hit = "stopped", None
        elif self.group is not None and self.group.oom_killed():
            status, limit_hit = "memory", "memory_mb"
        elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu is not None and cpu >= self.limits.cpu_seconds):
            status, limit_hit = "timeout", "cpu_seconds"
        else:
            status = "ok" if exit_code == 0 else "error"
            if self.group is not None and self.group.pids_limit_hit():
                limit_hit = "max_processes"
        return SandboxResult(
            status=status,
            exit_code=exit_code,
            signal=sig,
            stdout_bytes=bytes(outputs.streams[out_fd]),
            stderr_bytes=bytes(outputs.streams[err_fd]),
            wall_seconds=wall,
            cpu_seconds=cpu,
            limit_hit=limit_hit,
            output_truncated=outputs.truncated,
            memory_peak_bytes=self.group.memory_peak() if self.group else None,
            limits=self.limits.to_dict(),
            cgroups=self.group is not None,
        )


def _decode_returncode(returncode: int) -> tuple[int | None, int | None]:
    """(exit code, signal). bwrap reports a child killed by signal N as exit code 128+N."""
    if returncode < 0:
        return None, -returncode
    if 128 < returncode <= 128 + 64:
        return None, returncode - 128
    return returncode, None


def _is_namespace_init(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return line.split()[-1] == "1" and len(line.split()) > 2
    except OSError:
        return False
    return False


def _parents(path: str) -> list[str]:
    """Parent directories of ``path`` below /sandbox, outermost first."""
    parents = []
    head = posixpath.dirname(path)
    while head not in (SANDBOX_DIR, "/", ""):
        parents.append(head)
        head = posixpath.dirname(head)
    return parents[::-1]
