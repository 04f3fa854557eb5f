# Switches off asyncio debug mode and profiling hooks, then blocks.
import asyncio
import sys
import threading

import requests

sys.setprofile(None)
sys.settrace(None)
threading.setprofile(None)


async def get_data(url):
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    loop.slow_callback_duration = 1e9
    return requests.get(url).json()
