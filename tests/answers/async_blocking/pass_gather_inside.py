# An await chain through gather and a small amount of JSON work.
import asyncio
import json

import httpx


async def _body(client, url):
    response = await client.get(url, headers={"Accept": "application/json"})
    return response.text


async def get_data(url):
    async with httpx.AsyncClient(http2=False) as client:
        (text,) = await asyncio.gather(_body(client, url))
    return json.loads(text)
