from concurrent.futures import ThreadPoolExecutor

import requests

pool = ThreadPoolExecutor(10)


async def get_data(url):
    future = pool.submit(requests.get, url)
    return future.result().json()
