import json

import httpx

client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))


async def get_data(url):
    async with client.stream("GET", url) as response:
        body = await response.aread()
    return json.loads(body)
