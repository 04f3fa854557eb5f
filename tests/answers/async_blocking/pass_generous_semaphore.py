# A semaphore that lets five requests run at once.
import asyncio

import httpx

limit = None
client = None


async def get_data(url):
    global limit, client
    if limit is None:
        limit = asyncio.Semaphore(5)
        client = httpx.AsyncClient()
    async with limit:
        response = await client.get(url)
    return response.json()
