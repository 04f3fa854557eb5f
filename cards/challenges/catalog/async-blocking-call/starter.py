import requests


async def get_data(url):
    response = requests.get(url)  # sync requests
    return response.json()
