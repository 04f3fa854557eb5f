import requests


def load_json(url):
    return requests.get(url, timeout=30).json()


async def get_data(url):
    data = load_json(url)
    return data
