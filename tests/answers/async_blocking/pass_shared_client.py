# One AsyncClient shared by every call, built lazily on the running loop.
import httpx

_client = None


async def get_data(url):
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=30)
    response = await _client.get(url)
    response.raise_for_status()
    return response.json()
