import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

pool = ThreadPoolExecutor(max_workers=10)


async def get_data(url):
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(pool, httpx.get, url)
    return response.json()
