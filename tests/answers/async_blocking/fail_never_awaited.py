# The async fetch is started but never awaited: a coroutine comes back instead of data.
import httpx

client = httpx.AsyncClient()


async def fetch(url):
    response = await client.get(url)
    return response.json()


async def get_data(url):
    return fetch(url)
