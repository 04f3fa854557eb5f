import asyncio
from concurrent.futures import ProcessPoolExecutor

from work import crunch

# One pool for the whole server: starting processes is expensive, reusing them is not.
_pool: ProcessPoolExecutor | None = None


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor()
    return _pool


async def handle(seed: int, rounds: int) -> int:
    loop = asyncio.get_running_loop()
    # The work runs in another process; this coroutine pauses here and the loop serves others.
    return await loop.run_in_executor(_get_pool(), crunch, seed, rounds)
