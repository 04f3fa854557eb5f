import asyncio
import functools

import requests


def fetch(url):
    with requests.Session() as session:
        return session.get(url, timeout=30).json()


async def get_data(url):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fetch, url))
