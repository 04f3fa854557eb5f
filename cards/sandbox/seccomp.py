"""A small seccomp filter for the sandboxed code, passed to bubblewrap with ``--seccomp FD``.

Namespaces, no capabilities and an unprivileged uid already stop these calls from doing harm; the
filter shrinks the kernel surface the code can reach at all (io_uring, bpf, perf events, keyrings,
userfaultfd, ptrace, the mount API). Blocked calls fail with EPERM; clone3 fails with ENOSYS so
glibc falls back to clone. Other ABIs than x86_64 (i386 via int 0x80, x32) kill the process.
Built by hand as classic BPF (no libseccomp needed); on other architectures no filter is used.
"""

from __future__ import annotations

import errno
import functools
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06

# x86_64 syscall numbers.
BLOCKED_X86_64: dict[str, int] = {
    "ptrace": 101, "syslog": 103, "uselib": 134, "vhangup": 153, "pivot_root": 155, "chroot": 161,
    "acct": 163, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}  # fmt: skip
ENOSYS_X86_64: dict[str, int] = {"clone3": 435}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


@functools.cache
def filter_program() -> bytes | None:
    """The compiled BPF program for this machine, or None where no filter is defined (not x86_64)."""
    if platform.machine() != "x86_64":
        return None
    program = [
        _insn(BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _insn(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
    ]
    for number in BLOCKED_X86_64.values():
        program += [_insn(BPF_JEQ_K, 0, 1, number), _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]
    for number in ENOSYS_X86_64.values():
        program += [_insn(BPF_JEQ_K, 0, 1, number), _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)]
    program.append(_insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(program)
