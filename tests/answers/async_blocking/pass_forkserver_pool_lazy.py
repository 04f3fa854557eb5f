# Blocking requests in a process pool (forkserver start method), created lazily at the first call.
import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import requests

pool = None


def fetch(url):
    return requests.get(url, timeout=30).json()


async def get_data(url):
    global pool
    if pool is None:
        pool = ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("forkserver"))
    return await asyncio.get_running_loop().run_in_executor(pool, fetch, url)
