# Runs a whole new event loop per call in a thread, and waits for it on the loop thread.
import asyncio
import concurrent.futures

import httpx


async def _fetch(url):
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()


async def get_data(url):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _fetch(url)).result()
