import httpx


async def get_data(url):
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    return response.json()
