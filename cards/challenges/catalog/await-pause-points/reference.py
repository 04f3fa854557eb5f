import asyncio


async def worker(name: str, steps: int, log) -> None:
    for i in range(steps):
        log(f"{name}{i}")
        # An await that really waits: this task pauses here and the loop runs the other one.
        await asyncio.sleep(0.01)
