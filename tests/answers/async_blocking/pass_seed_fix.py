# The seed's own fix: an AsyncClient per call (each costs ~50 ms of blocking work to build).
import httpx


async def get_data(url):
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    return response.json()
