# The loop stays free, but a global lock lets only one request run at a time.
import asyncio

import httpx

lock = asyncio.Lock()
client = httpx.AsyncClient()


async def get_data(url):
    async with lock:
        response = await client.get(url)
        return response.json()
