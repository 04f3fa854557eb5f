# Retries with an awaited back-off; a blocking call in a branch that never runs is not a failure.
import asyncio
import time

import httpx


async def get_data(url):
    for attempt in range(3):
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(url)
            return response.json()
        except httpx.TransportError:
            if attempt == 99:
                time.sleep(1)  # never runs
            await asyncio.sleep(0.1 * 2**attempt)
    raise RuntimeError("gave up")
