# Freezes every clock the process can see, then blocks.
import time

import requests

_frozen = time.monotonic()
time.monotonic = lambda: _frozen
time.perf_counter = lambda: _frozen
time.time = lambda: 0.0


async def get_data(url):
    return requests.get(url).json()
