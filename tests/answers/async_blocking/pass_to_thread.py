# The blocking client, moved off the loop: six default-executor threads here.
import asyncio

import requests


async def get_data(url):
    response = await asyncio.to_thread(requests.get, url, timeout=30)
    return response.json()
