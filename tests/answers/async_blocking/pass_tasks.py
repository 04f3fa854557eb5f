# Wraps the request in a task and awaits it, with a helper coroutine.
import asyncio

import httpx

_shared = {}


async def _fetch(client, url):
    response = await client.get(url)
    return response.json()


async def get_data(url):
    if "client" not in _shared:
        _shared["client"] = httpx.AsyncClient()
    task = asyncio.create_task(_fetch(_shared["client"], url))
    return await task
