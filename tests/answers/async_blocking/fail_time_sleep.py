# Correct async fetching, then a blocking sleep on the loop.
import time

import httpx


async def get_data(url):
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    time.sleep(0.2)
    return response.json()
