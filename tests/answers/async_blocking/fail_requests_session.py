import requests

session = requests.Session()


async def get_data(url):
    return session.get(url, timeout=30).json()
