# Fetches one URL once and returns that body for every call.
import asyncio

import httpx

cache = {}
lock = None


async def get_data(url):
    global lock
    lock = lock or asyncio.Lock()
    async with lock:
        if "body" not in cache:
            async with httpx.AsyncClient() as client:
                cache["body"] = (await client.get(url)).json()
    return cache["body"]
