"""One uid per concurrent run, claimed with a lock file so threads and processes never share one.

A uid of its own makes RLIMIT_NPROC count this run's processes only, and keeps runs from signalling
or reading each other even if a pid namespace were ever shared.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def claim_uid(lock_dir: Path, uid_base: int, uid_count: int) -> Iterator[int]:
    """Hold a free uid in [uid_base, uid_base + uid_count) for the duration of the block."""
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    order = list(range(uid_count))
    random.shuffle(order)
    fd = -1
    slot = order[0]
    for candidate in order:
        fd = os.open(lock_dir / f"uid-{uid_base + candidate}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            fd = -1
            continue
        slot = candidate
        break
    if fd == -1:  # every uid busy: wait for one
        fd = os.open(lock_dir / f"uid-{uid_base + slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield uid_base + slot
    finally:
        os.close(fd)  # closing the descriptor releases the lock
