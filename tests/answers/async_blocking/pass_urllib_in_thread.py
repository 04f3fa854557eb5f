import asyncio
import json
import urllib.request


def load(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))


async def get_data(url):
    return await asyncio.to_thread(load, url)
