import asyncio

import httpx

client = None


async def get_data(url):
    global client
    client = client or httpx.AsyncClient()
    response = await asyncio.wait_for(client.get(url), timeout=30)
    return response.json()
