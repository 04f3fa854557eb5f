import asyncio

import requests

gate = None


async def get_data(url):
    global gate
    gate = gate or asyncio.Semaphore(1)
    async with gate:
        response = await asyncio.to_thread(requests.get, url)
    return response.json()
