import asyncio

from fetch import get_json


async def fetch_all(urls: list[str], limit: int) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def fetch(url: str) -> object:
        async with semaphore:  # at most `limit` coroutines get past this line at once
            return await get_json(url)

    # All 1,000 tasks exist at once (they are cheap); only `limit` of them are inside the semaphore.
    # gather keeps the results in the order of `urls`.
    return await asyncio.gather(*(fetch(url) for url in urls))
