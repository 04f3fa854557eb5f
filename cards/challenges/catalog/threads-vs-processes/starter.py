from concurrent.futures import ThreadPoolExecutor

from work import crunch


def run_all(jobs: list[tuple[int, int]]) -> list[int]:
    with ThreadPoolExecutor() as pool:
        return list(pool.map(lambda job: crunch(*job), jobs))
