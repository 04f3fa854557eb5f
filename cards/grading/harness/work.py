"""Shipped into the sandbox as work.py: the CPU-bound function the challenges ask learners to run.

Pure Python on purpose: it holds the GIL the whole time and has no shortcut. It
reports nothing: where the work ran is read by the grader from the kernel's CPU
accounting (cards/grading/kernel.py), and the grader computes the expected
results itself, outside the sandbox, with this same file.
"""


def crunch(seed: int, rounds: int) -> int:
    """Stir `seed` for `rounds` rounds; about 0.12 s of CPU per 1,000,000 rounds here (Debian python3.11)."""
    x = seed & 0xFFFFFFFF
    for i in range(rounds):
        x = (x * 1103515245 + 12345 + ((x >> 7) ^ i)) % 4294967291
    return x
