# Tries to drive the already-running loop from inside a coroutine.
import asyncio

import httpx


async def _fetch(url):
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()


async def get_data(url):
    loop = asyncio.get_event_loop()
    return loop.run_until_complete(_fetch(url))
