from requests import get as fetch_politely


async def get_data(url):
    return fetch_politely(url).json()
