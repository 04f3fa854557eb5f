import json
from urllib.request import urlopen


async def get_data(url):
    with urlopen(url) as response:
        return json.load(response)
