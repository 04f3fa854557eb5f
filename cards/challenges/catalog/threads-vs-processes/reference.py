import os
from concurrent.futures import ProcessPoolExecutor

from work import crunch


def run_all(jobs: list[tuple[int, int]]) -> list[int]:
    # One process per core: each has its own interpreter and its own GIL, so they really run at once.
    # The function and its arguments are pickled to the workers; crunch must be importable (it is).
    seeds, rounds = zip(*jobs)
    with ProcessPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        return list(pool.map(crunch, seeds, rounds))
