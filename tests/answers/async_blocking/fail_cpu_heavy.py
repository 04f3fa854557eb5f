# Right results, fetched asynchronously, but 0.3 s of CPU work per call on the loop thread.
import time

import httpx

client = httpx.AsyncClient()


def checksum(data):
    total = 0
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        total = (total * 31 + len(data)) % 1_000_003
    return total


async def get_data(url):
    response = await client.get(url)
    data = response.json()
    checksum(data)
    return data
