import httpx


async def get_data(url)
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()
