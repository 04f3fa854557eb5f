# Blocking requests in a process pool (forkserver start method), created at import and first used from the loop.
import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import requests

pool = ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("forkserver"))


def fetch(url):
    return requests.get(url, timeout=30).json()


async def get_data(url):
    return await asyncio.get_running_loop().run_in_executor(pool, fetch, url)
