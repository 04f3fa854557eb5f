# The blocking standard-library client speaks HTTP/1.0-style close; run it in a thread.
import asyncio
import http.client
import json
from urllib.parse import urlsplit


def fetch(url):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", parts.path, headers={"Connection": "close"})
    data = connection.getresponse().read()
    connection.close()
    return json.loads(data)


async def get_data(url):
    return await asyncio.get_running_loop().run_in_executor(None, fetch, url)
