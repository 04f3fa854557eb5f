"""Shipped into the sandbox as work.py: the CPU-bound function the challenges ask learners to run.

Pure Python on purpose: it holds the GIL the whole time and has no shortcut.
"""


def crunch(seed: int, rounds: int) -> int:
    """Stir `seed` for `rounds` rounds; about 0.1 s per 150,000 rounds on a 2020s core."""
    x = seed & 0xFFFFFFFF
    for i in range(rounds):
        x = (x * 1103515245 + 12345 + ((x >> 7) ^ i)) % 4294967291
    return x
