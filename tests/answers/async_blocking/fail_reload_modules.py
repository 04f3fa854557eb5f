# Reloads asyncio, time and socket, then blocks.
import asyncio
import importlib
import socket
import time

import requests

for module in (asyncio, time, socket):
    try:
        importlib.reload(module)
    except Exception:
        pass


async def get_data(url):
    return requests.get(url).json()
