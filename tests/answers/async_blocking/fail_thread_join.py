# The fetch runs in a thread, but the loop thread waits for it with join().
import threading

import requests


async def get_data(url):
    box = {}
    worker = threading.Thread(target=lambda: box.update(data=requests.get(url).json()))
    worker.start()
    worker.join()
    return box["data"]
