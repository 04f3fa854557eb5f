import httpx


async def get_data(url):
    with httpx.Client() as client:
        return client.get(url).json()
