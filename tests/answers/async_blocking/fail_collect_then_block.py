# Collects all URLs, then fetches them in parallel threads while the loop thread waits:
# the server sees overlap, but the loop is blocked.
import asyncio
from concurrent.futures import ThreadPoolExecutor

import requests

pending = []
results = {}


async def get_data(url):
    pending.append(url)
    await asyncio.sleep(0)
    if pending:
        batch = list(pending)
        pending.clear()
        with ThreadPoolExecutor(len(batch)) as pool:
            for u, data in zip(batch, pool.map(lambda x: requests.get(x).json(), batch)):
                results[u] = data
    return results[url]
