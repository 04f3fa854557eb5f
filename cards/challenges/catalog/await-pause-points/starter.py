import time


async def worker(name: str, steps: int, log) -> None:
    for i in range(steps):
        log(f"{name}{i}")
        time.sleep(0.01)  # "wait a little"
